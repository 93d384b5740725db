package rootfs

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// reopenDevNull points those of fds 0-2 that are the host's /dev/null
// (an engine's usual stdin, e.g. conmon's) at the container's own
// /dev/null, as runc does. Otherwise the container holds a file on a
// mount of the host's, which CRIU cannot find in the container's mount
// namespace: a checkpoint fails with "Can't lookup mount=N for fd=0
// path=/dev/null". Each fd keeps its access mode. Called after the root
// switch, only when the runtime made /dev.
func reopenDevNull() error {
	var null unix.Stat_t
	if err := unix.Stat("/dev/null", &null); err != nil {
		return fmt.Errorf("stat /dev/null: %w", err)
	}
	for fd := 0; fd < 3; fd++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			continue // closed: nothing to reopen
		}
		if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != null.Rdev {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil {
			return fmt.Errorf("fcntl fd %d: %w", fd, err)
		}
		nfd, err := unix.Open("/dev/null", flags&unix.O_ACCMODE|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("reopen /dev/null for fd %d: %w", fd, err)
		}
		// dup3 without O_CLOEXEC: the process keeps the new fd.
		err = unix.Dup3(nfd, fd, 0)
		unix.Close(nfd)
		if err != nil {
			return fmt.Errorf("reopen /dev/null for fd %d: %w", fd, err)
		}
	}
	return nil
}
