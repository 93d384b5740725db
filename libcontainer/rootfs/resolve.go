package rootfs

import (
	"errors"
	"os"
	"path/filepath"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// openInRoot opens path as if root were "/" (symlinks, "..", absolute
// links all stay inside), as an O_PATH descriptor. openat2's
// RESOLVE_IN_ROOT does this in one kernel call; pathrs-lite does the same
// with extra checks at several syscalls per component, so it is kept for
// kernels without openat2.
func openInRoot(root *os.File, path string) (*os.File, error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(int(root.Fd()), path, &how)
		switch {
		case err == nil:
			return os.NewFile(uintptr(fd), path), nil
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			continue // a concurrent rename raced the lookup: retry
		case errors.Is(err, unix.ENOSYS):
			return pathrs.OpenatInRoot(root, path) // kernels before 5.6
		default:
			return nil, &os.PathError{Op: "openat2", Path: path, Err: err}
		}
	}
}

// mkdirInRoot returns a descriptor for directory path inside root,
// creating missing components. Each one is made with mkdirat on its
// already-resolved parent, so the name cannot escape; an existing symlink
// there makes mkdirat fail with EEXIST and is then resolved inside root.
func mkdirInRoot(root *os.File, path string) (*os.File, error) {
	f, err := openInRoot(root, path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return f, err
	}
	dir, name := filepath.Split(filepath.Clean("/" + path))
	if name == "" {
		return nil, err
	}
	parent, err := mkdirInRoot(root, dir)
	if err != nil {
		return nil, err
	}
	err = unix.Mkdirat(int(parent.Fd()), name, 0o755)
	parent.Close()
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, &os.PathError{Op: "mkdirat", Path: path, Err: err}
	}
	return openInRoot(root, path)
}
