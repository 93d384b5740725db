package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/huskrt/husk/libcontainer/initproc"
	"github.com/huskrt/husk/libcontainer/terminal"
	"github.com/huskrt/husk/seccomp"
)

// waitReady reads init's messages until it reports ready (nil) or an
// error. On the way it serves a seccomp notify listener: init says it has
// one, we ask for it, and it comes alone over SCM_RIGHTS (so the JSON
// decoder never reads past it); listener passes it on.
func waitReady(sock *os.File, dec *json.Decoder, enc *json.Encoder, listener func(*os.File) error) error {
	for {
		var msg initproc.Message
		if err := dec.Decode(&msg); err != nil {
			return readInitError(nil, err)
		}
		switch msg.Type {
		case initproc.MsgReady:
			return nil
		case initproc.MsgError:
			return errors.New(msg.Error)
		case initproc.MsgSeccomp:
			if listener == nil {
				return errors.New("init sent a seccomp listener nobody asked for")
			}
			if err := enc.Encode(initproc.Message{Type: initproc.MsgSendFd}); err != nil {
				return fmt.Errorf("ask init for the seccomp listener: %w", err)
			}
			fd, err := terminal.RecvFd(sock)
			if err != nil {
				return fmt.Errorf("receive seccomp listener from init: %w", readInitError(dec, err))
			}
			err = listener(fd)
			fd.Close()
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected message %q from init", msg.Type)
		}
	}
}

// seccompListener returns what sends a notify listener of process pid to
// linux.seccomp.listenerPath, with the container's state as the
// runtime-spec says (nil when no rule uses SCMP_ACT_NOTIFY).
func seccompListener(spec *specs.Spec, st *State, pid int, status Status) func(*os.File) error {
	if spec.Linux == nil || !seccomp.UsesNotify(spec.Linux.Seccomp) {
		return nil
	}
	sc := spec.Linux.Seccomp
	return func(fd *os.File) error {
		data, err := json.Marshal(specs.ContainerProcessState{
			Version:  specs.Version,
			Fds:      []string{specs.SeccompFdName},
			Pid:      pid,
			Metadata: sc.ListenerMetadata,
			State: specs.State{
				Version:     st.OCIVersion,
				ID:          st.ID,
				Status:      specs.ContainerState(status),
				Pid:         st.Pid,
				Bundle:      st.Bundle,
				Annotations: st.Annotations,
			},
		})
		if err != nil {
			return err
		}
		s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("linux.seccomp.listenerPath: socket: %w", err)
		}
		defer unix.Close(s)
		if err := unix.Connect(s, &unix.SockaddrUnix{Name: sc.ListenerPath}); err != nil {
			return fmt.Errorf("linux.seccomp.listenerPath: connect to %s: %w", sc.ListenerPath, err)
		}
		if err := unix.Sendmsg(s, data, unix.UnixRights(int(fd.Fd())), nil, 0); err != nil {
			return fmt.Errorf("linux.seccomp.listenerPath: send listener to %s: %w", sc.ListenerPath, err)
		}
		return nil
	}
}

// recvConsole receives the pty master init sends for a foreground tty.
func recvConsole(sock *os.File, dec *json.Decoder) (*os.File, error) {
	master, err := terminal.RecvFd(sock)
	if err != nil {
		return nil, fmt.Errorf("receive pty master from init: %w", readInitError(dec, err))
	}
	return master, nil
}
