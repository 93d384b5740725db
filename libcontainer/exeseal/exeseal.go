// Package exeseal gives the parent a copy of the husk binary to re-exec as
// `husk init` that a container cannot overwrite (CVE-2019-5736: a process
// in the container opens /proc/<init>/exe and writes through it to the
// host's binary).
//
// The preferred way costs no copy: a private, detached, read-only overlayfs
// whose lower layer is the directory holding husk. /proc/<pid>/exe then
// points into that overlay, where every write fails with EROFS, and the
// mount disappears with the last descriptor (it is never attached to any
// mount tree, so nothing needs cleaning up). Where overlayfs cannot be
// mounted (no privileges, old kernel), a sealed memfd copy is the fallback.
package exeseal

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Method says which protection Open used.
type Method string

const (
	Overlay Method = "overlayfs"
	Memfd   Method = "memfd"
)

// Open returns an O_PATH (overlay) or memfd file that execs as this
// binary, and the method used. scratchDir must be a directory on the host
// that the container cannot write (husk's state root): overlayfs needs two
// lower layers to mount without an upper one. forceMemfd skips overlayfs.
func Open(scratchDir string, forceMemfd bool) (*os.File, Method, error) {
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, "", fmt.Errorf("readlink /proc/self/exe: %w", err)
	}
	if !forceMemfd {
		if f, err := overlay(self, scratchDir); err == nil {
			return f, Overlay, nil
		}
	}
	f, err := memfd()
	if err != nil {
		return nil, "", err
	}
	return f, Memfd, nil
}

func overlay(self, scratchDir string) (*os.File, error) {
	dir, name := filepath.Split(self)
	ctx, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	defer unix.Close(ctx)
	// ':' and '\' separate and escape lowerdir entries.
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`)
	lower := esc.Replace(filepath.Clean(dir)) + ":" + esc.Replace(filepath.Clean(scratchDir))
	if err := unix.FsconfigSetString(ctx, "lowerdir", lower); err != nil {
		return nil, err
	}
	if err := unix.FsconfigCreate(ctx); err != nil {
		return nil, err
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_RDONLY)
	if err != nil {
		return nil, err
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "husk(overlay)"), nil
}

// memfd copies the binary into a sealed memfd: the container can neither
// write nor resize it. It costs a copy per container, so it is only the
// fallback.
func memfd() (*os.File, error) {
	fd, err := unix.MemfdCreate("husk", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	mf := os.NewFile(uintptr(fd), "husk(memfd)")
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		mf.Close()
		return nil, fmt.Errorf("open /proc/self/exe: %w", err)
	}
	defer src.Close()
	if _, err := io.Copy(mf, src); err != nil { // io.Copy uses sendfile/copy_file_range
		mf.Close()
		return nil, fmt.Errorf("copy husk into memfd: %w", err)
	}
	const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(mf.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		mf.Close()
		return nil, fmt.Errorf("seal memfd: %w", err)
	}
	return mf, nil
}
