package initproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/huskrt/husk/libcontainer/config"
	"github.com/huskrt/husk/libcontainer/hooks"
	"github.com/huskrt/husk/libcontainer/rootfs"
	"github.com/huskrt/husk/libcontainer/terminal"
)

// Run is `husk init`. nsenter has already joined and created the
// namespaces; this process is the container's pid 1 (or its first process
// when the pid namespace is shared). On success it never returns: it
// becomes the user's program. On failure it reports to the parent and
// returns the error.
func Run() error {
	// Credentials, capabilities and the exec must all happen on one
	// thread: capset and prctl act on the calling thread only.
	runtime.LockOSThread()

	fd, err := strconv.Atoi(os.Getenv(EnvInitPipe))
	if err != nil {
		return fmt.Errorf("husk init must be started by husk (%s is not set)", EnvInitPipe)
	}
	sock := os.NewFile(uintptr(fd), "sync")
	dec := json.NewDecoder(sock)
	enc := json.NewEncoder(sock)
	var c Config
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf("read config from parent: %w", err)
	}
	if err := run(&c, &syncer{sock: sock, dec: dec, enc: enc}); err != nil {
		if errors.Is(err, ErrReported) {
			return ErrReported // told `start` (startContainer hooks)
		}
		// The parent turns this into the error create/run prints; only
		// if it is gone does init print the error itself.
		if enc.Encode(Message{Type: MsgError, Error: err.Error()}) == nil {
			return ErrReported
		}
		return err
	}
	return nil // not reached: run execs
}

// ErrReported is returned by Run when the error already went to the
// parent, so `husk init` exits without printing it again.
var ErrReported = errors.New("error reported to the parent")

func run(c *Config, s *syncer) error {
	if c.Exec {
		return runExec(c, s)
	}
	spec, proc := c.Spec, c.Spec.Process
	sock, dec, enc := s.sock, s.dec, s.enc
	newNS := func(t specs.LinuxNamespaceType) bool { return slices.Contains(c.NewNamespaces, t) }
	// ownNS: listed in the config, new or joined by path. As with runc, a
	// joined mount or uts namespace is the container's to set up.
	ownNS := func(t specs.LinuxNamespaceType) bool {
		return spec.Linux != nil && slices.ContainsFunc(spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == t })
	}

	// Step 1: our own session, so a terminal can become controlling and
	// the container is not in the caller's job control.
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	// Device nodes and mount points get exactly the modes asked for; the
	// process's umask is set just before exec.
	unix.Umask(0)
	// Step 1b: the host's /proc, kept for the writes of step 5 whatever
	// the container mounts on its own; the idmapped trees the parent
	// made. Each only when the config asks for it.
	var hostProc *os.File
	if (spec.Linux != nil && len(spec.Linux.Sysctl) > 0) || proc.OOMScoreAdj != nil {
		var err error
		if hostProc, err = openHostProc(); err != nil {
			return fmt.Errorf("open /proc: %w", err)
		}
		defer hostProc.Close()
	}
	var idmapped map[int]*os.File
	if len(c.IDMapMounts) > 0 {
		var err error
		if idmapped, err = recvIDMapped(sock, enc, c.IDMapMounts); err != nil {
			return err
		}
	}

	// Step 2: the root filesystem (only in a mount namespace of the
	// container's: anything else would change the host's mounts).
	if ownNS(specs.MountNamespace) {
		err := rootfs.Setup(spec, rootfs.Options{
			Rootfs:       c.Rootfs,
			Bundle:       c.Bundle,
			NoPivot:      c.NoPivot,
			NewCgroupNS:  newNS(specs.CgroupNamespace),
			InUserNS:     ownNS(specs.UserNamespace),
			BeforeSwitch: func() error { return createHooks(c, dec, enc) },
			IDMapped:     idmapped,
			MountLabel:   mountLabel(spec),
		})
		if err != nil {
			return err
		}
	} else if err := createHooks(c, dec, enc); err != nil {
		return err
	} else if err := unix.Chroot(c.Rootfs); err != nil {
		return fmt.Errorf("chroot %s: %w", c.Rootfs, err)
	}

	// Step 3: the terminal, made on the container's devpts and bound to
	// /dev/console; the master goes to whoever holds the console socket.
	if c.ConsoleFd >= 0 {
		if err := setupConsole(c, ownNS(specs.MountNamespace)); err != nil {
			return err
		}
	}

	// Step 4: read-only and masked paths and the read-only root, now that
	// nothing more needs writing.
	if ownNS(specs.MountNamespace) {
		if err := rootfs.Finalize(spec); err != nil {
			return err
		}
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}

	// Step 5: what belongs to the container rather than its process:
	// names, loopback, sysctls, the OOM score (the host's /proc).
	if spec.Hostname != "" && ownNS(specs.UTSNamespace) {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("hostname %q: %w", spec.Hostname, err)
		}
	}
	if newNS(specs.NetworkNamespace) {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if spec.Domainname != "" && ownNS(specs.UTSNamespace) {
		if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
			return fmt.Errorf("domainname %q: %w", spec.Domainname, err)
		}
	}
	if spec.Linux != nil && len(spec.Linux.Sysctl) > 0 {
		if err := setSysctls(hostProc, spec.Linux.Sysctl); err != nil {
			return err
		}
	}
	if proc.OOMScoreAdj != nil {
		if err := writeProc(hostProc, "self/oom_score_adj", strconv.Itoa(*proc.OOMScoreAdj)); err != nil {
			return fmt.Errorf("process.oomScoreAdj %d: %w", *proc.OOMScoreAdj, err)
		}
	}

	// Steps 6-7: keyring, limits, scheduling, HOME and the program, user
	// and capabilities, cwd, LSM labels and seccomp when it must be early:
	// the process attributes `husk exec` sets up the same way (process.go).
	prep, err := setupProcess(c, s)
	if err != nil {
		return err
	}

	// Step 8: tell the parent we are ready and wait until it has saved
	// the state. If the parent died, the socket is closed: give up.
	if err := s.readyAndWait(); err != nil {
		return err
	}

	// Step 9: create waits here until `start` writes the exec fifo.
	if c.FifoFd >= 0 {
		if err := waitFifo(c.FifoFd); err != nil {
			return err
		}
	}

	// Step 9b: the startContainer hooks, in the container as the user
	// (as runc runs them); a failure is reported to a waiting `start`.
	if err := runInContainer(c, hooks.StartContainer); err != nil {
		return reportStart(c, err)
	}

	// Step 10: the user's process gets stdio, the preserved descriptors
	// and nothing else of ours.
	if err := execProcess(c, prep); err != nil {
		return reportStart(c, err)
	}
	return nil
}

func mountLabel(spec *specs.Spec) string {
	if spec.Linux == nil {
		return ""
	}
	return spec.Linux.MountLabel
}

// setupConsole creates the pty, sends its master over the console socket
// and makes the slave the process's stdio and controlling terminal.
func setupConsole(c *Config, ownMounts bool) error {
	sock := os.NewFile(uintptr(c.ConsoleFd), "console-socket")
	defer sock.Close()
	master, slave, err := terminal.NewPty("/dev/ptmx")
	if err != nil {
		return fmt.Errorf("process.terminal: %w", err)
	}
	defer master.Close()
	defer slave.Close()
	if cs := c.Spec.Process.ConsoleSize; cs != nil {
		unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(cs.Height), Col: uint16(cs.Width)})
	}
	if ownMounts {
		// /dev/console is the container's terminal, as on a real system.
		if err := rootfs.MountConsole(slave); err != nil {
			return fmt.Errorf("process.terminal: %w", err)
		}
	}
	if err := terminal.SendFd(sock, master.Name(), master); err != nil {
		return fmt.Errorf("send pty master over console socket: %w", err)
	}
	for i := 0; i < 3; i++ {
		if err := unix.Dup3(int(slave.Fd()), i, 0); err != nil {
			return fmt.Errorf("dup pty to fd %d: %w", i, err)
		}
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("make pty the controlling terminal: %w", err)
	}
	return nil
}

func setRlimit(rl specs.POSIXRlimit) error {
	typ, ok := config.RlimitType(rl.Type)
	if !ok {
		return errors.New("unknown rlimit type")
	}
	// syscall.Setrlimit (not x/sys) so the Go runtime does not restore
	// its own saved RLIMIT_NOFILE at exec.
	err := syscall.Setrlimit(typ, &syscall.Rlimit{Cur: rl.Soft, Max: rl.Hard})
	if errors.Is(err, unix.EPERM) {
		var cur syscall.Rlimit
		syscall.Getrlimit(typ, &cur)
		return fmt.Errorf("above the hard limit %d and raising it needs CAP_SYS_RESOURCE: %w", cur.Max, err)
	}
	return err
}

// lookPath resolves the program as execvp would, with the container's
// PATH, inside the container's root.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		if err := checkExecutable(file); err != nil {
			return "", fmt.Errorf("exec: %q: %w", file, err)
		}
		return file, nil
	}
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if checkExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", file)
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return errors.Unwrap(err) // "no such file or directory", without the path twice
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return unix.EACCES
	}
	return nil
}

// setUser switches to process.user keeping the configured capabilities.
func setUser(proc *specs.Process, setgroupsDenied bool) error {
	caps := proc.Capabilities
	var c capability.Capabilities
	if caps != nil {
		var err error
		if c, err = capability.NewPid2(0); err != nil {
			return fmt.Errorf("capabilities: %w", err)
		}
		c.Clear(capability.CAPS | capability.BOUNDS | capability.AMBS)
		for _, set := range []struct {
			which capability.CapType
			names []string
		}{
			{capability.BOUNDING, caps.Bounding}, {capability.EFFECTIVE, caps.Effective},
			{capability.PERMITTED, caps.Permitted}, {capability.INHERITABLE, caps.Inheritable},
			{capability.AMBIENT, caps.Ambient},
		} {
			for _, n := range set.names {
				v, ok := config.CapabilityValue(n)
				if !ok {
					return fmt.Errorf("process.capabilities: unknown capability %q", n)
				}
				c.Set(set.which, capability.Cap(v))
			}
		}
		// The kernel only keeps ambient capabilities that are also
		// permitted and inheritable; raising any other fails, so they are
		// left out (as runc does, which warns and goes on).
		for _, n := range caps.Ambient {
			v, _ := config.CapabilityValue(n)
			if !c.Get(capability.INHERITABLE, capability.Cap(v)) || !c.Get(capability.PERMITTED, capability.Cap(v)) {
				c.Unset(capability.AMBIENT, capability.Cap(v))
			}
		}
		if err := c.Apply(capability.BOUNDS); err != nil {
			return fmt.Errorf("process.capabilities.bounding: %w", err)
		}
		// Keep the permitted set across setuid; Apply below trims it.
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl keepcaps: %w", err)
		}
	}
	u := proc.User
	if !setgroupsDenied {
		gids := make([]int, len(u.AdditionalGids))
		for i, g := range u.AdditionalGids {
			gids[i] = int(g)
		}
		// syscall's set*id calls change every thread of the process.
		if err := syscall.Setgroups(gids); err != nil {
			return fmt.Errorf("process.user.additionalGids: %w", err)
		}
	}
	if err := syscall.Setresgid(int(u.GID), int(u.GID), int(u.GID)); err != nil {
		return fmt.Errorf("process.user.gid %d: %w", u.GID, err)
	}
	if err := syscall.Setresuid(int(u.UID), int(u.UID), int(u.UID)); err != nil {
		return fmt.Errorf("process.user.uid %d: %w", u.UID, err)
	}
	if caps != nil {
		unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0)
		if err := c.Apply(capability.CAPS | capability.AMBS); err != nil {
			return fmt.Errorf("process.capabilities: %w", err)
		}
	}
	return nil
}

// waitFifo blocks until `start` writes a byte into the exec fifo.
func waitFifo(fd int) error {
	buf := make([]byte, 1)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n != 1 {
			return fmt.Errorf("wait for start on exec fifo: %v", err)
		}
		return nil
	}
}

// closeExecFrom marks every descriptor >= from close-on-exec.
func closeExecFrom(from int) {
	unix.CloseRange(uint(from), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
}
