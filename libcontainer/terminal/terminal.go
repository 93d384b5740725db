// Package terminal holds the pty plumbing for process.terminal: init makes
// the pty inside the container and sends its master over a unix socket
// (SCM_RIGHTS), either to the engine's --console-socket or to husk run,
// which then proxies its own terminal to it.
package terminal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"

	"golang.org/x/sys/unix"
)

// SendFd sends f over the unix socket sock with name as the payload, as
// runc does (engines only keep the descriptor).
func SendFd(sock *os.File, name string, f *os.File) error {
	rights := unix.UnixRights(int(f.Fd()))
	return unix.Sendmsg(int(sock.Fd()), []byte(name), rights, nil, 0)
}

// RecvFd receives one descriptor sent with SendFd.
func RecvFd(sock *os.File) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), name, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if n == 0 && oobn == 0 {
		return nil, io.EOF
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, errors.New("no descriptor in message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, errors.New("no descriptor in message")
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}

// NewPty opens a pty pair on the devpts behind ptmx (the container's own
// /dev/ptmx once init has pivoted).
func NewPty(ptmx string) (master, slave *os.File, err error) {
	m, err := os.OpenFile(ptmx, os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", ptmx, err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("get pty number: %w", err)
	}
	path := "/dev/pts/" + strconv.Itoa(int(n))
	s, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	return m, s, nil
}

// SetSize copies the window size of from onto to.
func SetSize(to, from *os.File) error {
	ws, err := unix.IoctlGetWinsize(int(from.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return err
	}
	return unix.IoctlSetWinsize(int(to.Fd()), unix.TIOCSWINSZ, ws)
}

// Proxy connects husk's own stdio to the pty master of a foreground
// container: raw mode on our terminal (if stdin is one), window size
// kept in sync, output copied until the container closes the pty. It
// returns a function that restores our terminal and waits for the output
// to drain.
func Proxy(master *os.File) (restore func()) {
	var old *unix.Termios
	if t, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
		old = t
		raw := *t
		raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		raw.Oflag &^= unix.OPOST
		raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		raw.Cflag &^= unix.CSIZE | unix.PARENB
		raw.Cflag |= unix.CS8
		raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
		unix.IoctlSetTermios(0, unix.TCSETS, &raw)
		SetSize(master, os.Stdin)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		go func() {
			for range winch {
				SetSize(master, os.Stdin)
			}
		}()
	}
	go io.Copy(master, os.Stdin)
	done := make(chan struct{})
	go func() {
		io.Copy(os.Stdout, master) // ends with EIO when the last slave closes
		close(done)
	}()
	return func() {
		<-done
		if old != nil {
			unix.IoctlSetTermios(0, unix.TCSETS, old)
		}
	}
}
