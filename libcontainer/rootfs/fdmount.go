package rootfs

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Mounts made after the switch to the container's root go through the
// new mount API on descriptors: /proc/self/fd/N would be resolved in the
// container's /proc, which the image or the config decide (it may not be
// mounted at all). Kernels without the API (before 5.2, ENOSYS) use the
// /proc path instead.

// bindFd bind-mounts the file or directory src (any descriptor) onto dest.
func bindFd(src, dest *os.File, recursive bool) error {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_EMPTY_PATH)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	tree, err := unix.OpenTree(int(src.Fd()), "", flags)
	if errors.Is(err, unix.ENOSYS) {
		ms := uintptr(unix.MS_BIND)
		if recursive {
			ms |= unix.MS_REC
		}
		return unix.Mount(fdPath(src), fdPath(dest), "", ms, "")
	}
	if err != nil {
		return fmt.Errorf("open_tree: %w", err)
	}
	defer unix.Close(tree)
	if err := unix.MoveMount(tree, "", int(dest.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

// mountEmptyTmpfs puts an empty read-only tmpfs on dest.
func mountEmptyTmpfs(dest *os.File) error {
	fs, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if errors.Is(err, unix.ENOSYS) {
		return unix.Mount("tmpfs", fdPath(dest), "tmpfs", unix.MS_RDONLY, "size=0k")
	}
	if err != nil {
		return fmt.Errorf("fsopen tmpfs: %w", err)
	}
	defer unix.Close(fs)
	if err := unix.FsconfigSetString(fs, "size", "0k"); err != nil {
		return fmt.Errorf("fsconfig tmpfs: %w", err)
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return fmt.Errorf("fsconfig tmpfs: %w", err)
	}
	mnt, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY)
	if err != nil {
		return fmt.Errorf("fsmount tmpfs: %w", err)
	}
	defer unix.Close(mnt)
	if err := unix.MoveMount(mnt, "", int(dest.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

// makeReadonly makes the mount at top and every mount under it
// read-only.
func makeReadonly(top *os.File) error {
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	err := unix.MountSetattr(int(top.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr)
	if errors.Is(err, unix.ENOSYS) { // before 5.12: the top mount only
		return remount(fdPath(top), unix.MS_RDONLY)
	}
	return err
}

// MountConsole makes /dev/console (created when missing, never followed
// if it is a symlink) a bind mount of the terminal pty. It runs after the
// switch to the container's root.
func MountConsole(pty *os.File) error {
	root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer root.Close()
	dest, err := makeDest(root, "/dev/console", false)
	if err != nil {
		return fmt.Errorf("/dev/console: %w", err)
	}
	defer dest.Close()
	if err := bindFd(pty, dest, false); err != nil {
		return fmt.Errorf("bind %s to /dev/console: %w", pty.Name(), err)
	}
	return nil
}
