// Package checkpoint checkpoints and restores husk containers with CRIU,
// through its RPC interface: one `criu swrk` process per operation, talked
// to over a socketpair (as runc does), with CRIU's protobuf messages
// encoded by rpc.go.
package checkpoint

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/sys/unix"
)

// minVersion is the oldest CRIU husk drives, as runc (3.0: the RPC
// features runc and husk rely on, VERSION among them).
const minVersion = 30000

// Criu runs one CRIU binary.
type Criu struct {
	// Path is husk's --criu (default "criu", looked up in $PATH).
	Path string
}

// session is one `criu swrk` exchange.
type session struct {
	// stdio become criu's fds 0-2 (a restored process inherits them
	// through InheritFd); nil: /dev/null.
	stdio [3]*os.File
	// extra become criu's fds 4, 5, ... (fd 3 is the RPC socket).
	extra []*os.File
	// started runs once criu runs, before the request is sent (restore
	// puts criu into the container's cgroup there).
	started func(pid int) error
	// notify handles CRIU's notifications (NotifyScripts); oob carries a
	// descriptor for orphan-pts-master.
	notify func(r *criuResp, oob []byte) error
	// logPath is where CRIU's log is, for the error message.
	logPath string
}

func ptr[T any](v T) *T { return &v }

// call starts `criu swrk 3`, sends req and reads responses until the final
// one (answering notifications on the way).
func (c Criu) call(req *criuReq, s *session) (*criuResp, error) {
	path, err := c.lookPath()
	if err != nil {
		return nil, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("criu socketpair: %w", err)
	}
	client := os.NewFile(uintptr(fds[0]), "criu-client")
	server := os.NewFile(uintptr(fds[1]), "criu-server")
	defer client.Close()
	cmd := exec.Command(path, "swrk", "3")
	cmd.ExtraFiles = append([]*os.File{server}, s.extra...)
	if s.stdio[0] != nil {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = s.stdio[0], s.stdio[1], s.stdio[2]
	}
	err = cmd.Start()
	server.Close() // criu holds the only other end: its exit is our EOF
	if err != nil {
		return nil, fmt.Errorf("start criu: %w", err)
	}
	// Not cmd.Wait: with stdio given as files, exec has no copying
	// goroutines; the process is all there is to reap.
	proc := cmd.Process
	done := false
	defer func() {
		if !done {
			proc.Kill()
		}
		proc.Wait()
	}()
	if s.started != nil {
		if err := s.started(proc.Pid); err != nil {
			return nil, err
		}
	}
	if _, err := client.Write(req.marshal()); err != nil {
		return nil, fmt.Errorf("criu failed: send request: %w%s", err, s.logHint())
	}
	buf := make([]byte, 64*1024)
	oob := make([]byte, unix.CmsgSpace(4*4))
	conn := client
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(conn.Fd()), buf, oob, 0)
		if err != nil {
			return nil, fmt.Errorf("criu failed: read response: %w%s", err, s.logHint())
		}
		if n == 0 {
			return nil, fmt.Errorf("criu failed: it exited without a response%s", s.logHint())
		}
		if n == len(buf) {
			return nil, errors.New("criu failed: response too large")
		}
		resp := &criuResp{}
		if err := resp.unmarshal(buf[:n]); err != nil {
			return nil, fmt.Errorf("criu failed: bad response: %w", err)
		}
		if !resp.success {
			return nil, s.failure(req.typ, resp)
		}
		if resp.typ != reqNotify {
			done = true
			conn.Close()
			return resp, nil
		}
		if s.notify != nil {
			if err := s.notify(resp, oob[:oobn]); err != nil {
				return nil, err
			}
		}
		ack := (&criuReq{typ: reqNotify, notifySuccess: true}).marshal()
		if _, err := conn.Write(ack); err != nil {
			return nil, fmt.Errorf("criu failed: answer notification %s: %w%s", resp.notifyScript, err, s.logHint())
		}
	}
}

func (c Criu) lookPath() (string, error) {
	p, err := exec.LookPath(c.Path)
	if err != nil {
		return "", fmt.Errorf("criu not found (--criu %s): install criu 3.0 or later: %w", c.Path, errors.Unwrap(err))
	}
	return p, nil
}

// failure turns an unsuccessful response into one line: CRIU's own error
// message, else the first error of its log, and where the log is.
func (s *session) failure(t reqType, resp *criuResp) error {
	msg := resp.errmsg
	if msg == "" && resp.errno != 0 {
		msg = unix.Errno(resp.errno).Error()
	}
	return fmt.Errorf("criu failed: %s%s", t, s.reason(msg))
}

// reason is ": <CRIU's message or the first error of its log> (log PATH)".
func (s *session) reason(msg string) string {
	if msg == "" {
		msg = firstLogError(s.logPath)
	}
	out := ""
	if msg != "" {
		out = ": " + oneLine(msg)
	}
	if s.logPath != "" {
		out += " (log " + s.logPath + ")"
	}
	return out
}

// logHint is the reason for a failure CRIU did not describe.
func (s *session) logHint() string { return s.reason("") }

// firstLogError is the first "Error (...)" line of a CRIU log: the cause;
// later ones are consequences.
func firstLogError(path string) string {
	if path == "" {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "Error ("); i >= 0 {
			return strings.TrimSpace(line[i:])
		}
	}
	return ""
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Version asks CRIU for its version (major*10000 + minor*100 + sublevel)
// and fails when it is older than husk supports.
func (c Criu) Version() (int, error) {
	resp, err := c.call(&criuReq{typ: reqVersion}, &session{})
	if err != nil {
		if strings.HasPrefix(err.Error(), "criu not found") {
			return 0, err
		}
		// CRIU before 3.0 does not know the VERSION request.
		return 0, fmt.Errorf("criu (%s) is too old or broken: husk needs 3.0 or later: %w", c.Path, err)
	}
	n := int(resp.major)*10000 + int(resp.minor)*100 + int(resp.sublevel)
	if n < minVersion {
		return n, fmt.Errorf("criu (%s) is version %d.%d: husk needs 3.0 or later", c.Path, resp.major, resp.minor)
	}
	return n, nil
}

// Check runs `criu check`: it fails where dump or restore cannot work on
// this kernel. (Not the RPC CHECK request: that one needs an images
// directory and a log, and says less about the cause.)
func (c Criu) Check() error {
	if _, err := c.Version(); err != nil {
		return err
	}
	path, err := c.lookPath()
	if err != nil {
		return err
	}
	out, err := exec.Command(path, "check").CombinedOutput()
	if err != nil {
		msg := firstCheckError(string(out))
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("criu failed: criu check: %s", msg)
	}
	return nil
}

func firstCheckError(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Error") {
			return oneLine(line)
		}
	}
	return oneLine(out)
}

// Works reports whether CRIU can checkpoint on this host (for `husk
// features`).
func (c Criu) Works() bool { return c.Check() == nil }
