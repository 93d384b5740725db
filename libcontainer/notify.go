package libcontainer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// sd_notify proxy (as runc's notify_socket.go): when husk runs with
// NOTIFY_SOCKET set (systemd Type=notify), the container gets a socket of
// husk's at notifyInContainer, and husk forwards what the container sends
// to the host's socket, adding MAINPID when the container is detached.
// The state dir's notify/ directory is what is bind-mounted (read-only),
// so the socket can be bound later, by `start`.
const (
	notifyDir         = "notify"
	notifyInContainer = "/run/notify/notify.sock"
)

// notifySpec returns spec with the notify directory mounted and
// NOTIFY_SOCKET set for the process (a copy: the caller's spec is kept).
func notifySpec(spec *specs.Spec, stateDir string) (*specs.Spec, error) {
	dir := filepath.Join(stateDir, notifyDir)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create notify socket dir %s: %w", dir, err)
	}
	s := *spec
	s.Mounts = append(spec.Mounts[:len(spec.Mounts):len(spec.Mounts)], specs.Mount{
		Destination: filepath.Dir(notifyInContainer), Source: dir, Type: "bind",
		Options: []string{"bind", "nosuid", "noexec", "nodev", "ro"},
	})
	p := *spec.Process
	p.Env = append(p.Env[:len(p.Env):len(p.Env)], "NOTIFY_SOCKET="+notifyInContainer)
	s.Process = &p
	return &s, nil
}

// StartNotify is Start for a caller with NOTIFY_SOCKET set (host): for a
// container created with the proxy it binds the socket first and, once
// started (and unlocked), forwards until READY=1 or the container's exit.
func StartNotify(root, id, host string) error {
	dir := filepath.Join(root, id)
	if _, err := os.Stat(filepath.Join(dir, notifyDir)); host == "" || err != nil {
		return Start(root, id)
	}
	n, err := listenNotify(dir, host)
	if err != nil {
		return err
	}
	defer n.Close()
	if err := Start(root, id); err != nil {
		return err
	}
	st, err := ReadState(root, id)
	if err != nil {
		return err
	}
	return n.Forward(st.Pid, true)
}

// NotifyProxy is the container side's socket and the host's address.
type NotifyProxy struct {
	fd   int
	host string
}

// listenNotify binds the container's notify socket in the state dir.
func listenNotify(stateDir, host string) (*NotifyProxy, error) {
	p := filepath.Join(stateDir, notifyDir, "notify.sock")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	os.Remove(p) // a previous start's
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: p}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind notify socket %s: %w", p, err)
	}
	// Any user in the container may notify.
	if err := os.Chmod(p, 0o777); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("notify socket %s: %w", p, err)
	}
	return &NotifyProxy{fd: fd, host: host}, nil
}

// Close closes the container side's socket.
func (n *NotifyProxy) Close() {
	if n != nil && n.fd >= 0 {
		unix.Close(n.fd)
		n.fd = -1
	}
}

// Forward passes every message from the container to the host socket
// until pid exits, or with untilReady only until READY=1 (then it also
// sends MAINPID=pid, so systemd watches the container, not husk).
func (n *NotifyProxy) Forward(pid int, untilReady bool) error {
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil // already gone: nothing will be sent
	}
	defer unix.Close(pfd)
	buf := make([]byte, 4096)
	for {
		fds := []unix.PollFd{{Fd: int32(n.fd), Events: unix.POLLIN}, {Fd: int32(pfd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("notify socket: %w", err)
		}
		exited := fds[1].Revents != 0
		m, _, err := unix.Recvfrom(n.fd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			if exited {
				return nil // the container exited and everything it sent is passed on
			}
			continue
		}
		msg := buf[:m]
		ready := untilReady && bytes.Contains(append([]byte("\n"), msg...), []byte("\nREADY=1"))
		if ready {
			msg = append(bytes.TrimRight(msg, "\n"), "\nMAINPID="+strconv.Itoa(pid)...)
		}
		if err := unix.Sendto(n.fd, msg, 0, &unix.SockaddrUnix{Name: n.host}); err != nil {
			return fmt.Errorf("forward to NOTIFY_SOCKET %s: %w", n.host, err)
		}
		if ready {
			return nil
		}
	}
}
