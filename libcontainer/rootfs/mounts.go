package rootfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/huskrt/husk/libcontainer/config"
)

// mountOne mounts one entry of the config's mounts under root. Every step
// acts on descriptors resolved inside root; idmapped, when not nil, is a
// detached idmapped tree the parent prepared for this mount.
func mountOne(root *os.File, m specs.Mount, o Options, idmapped *os.File) error {
	opts := config.ParseMountOptions(m.Options)
	if m.Type == "cgroup" || m.Type == "cgroup2" {
		return mountCgroup(root, m, opts, o)
	}
	opts.Data = withMountLabel(opts.Data, o.MountLabel) // selinux.go
	bind := config.IsBind(m)
	isDir := true
	src := m.Source
	if bind {
		// The source is a host path the operator chose: it is not inside
		// the container and needs no confinement.
		if !filepath.IsAbs(src) {
			src = filepath.Join(o.Bundle, src)
		}
		var st unix.Stat_t
		var err error
		if idmapped != nil {
			// init (maybe in a user namespace) need not reach the source.
			err = unix.Fstat(int(idmapped.Fd()), &st)
		} else {
			err = unix.Stat(src, &st)
		}
		if err != nil {
			return fmt.Errorf("bind source %s: %w", src, err)
		}
		isDir = st.Mode&unix.S_IFMT == unix.S_IFDIR
	}
	dest, err := makeDest(root, m.Destination, isDir)
	if err != nil {
		return err
	}
	defer dest.Close()
	if err := checkProcDest(m, src, dest); err != nil {
		return err
	}
	flags := uintptr(opts.Flags)
	switch {
	case idmapped != nil:
		// open_tree + mount_setattr(MOUNT_ATTR_IDMAP) happened in the
		// parent (it needs CAP_SYS_ADMIN over the source's filesystem);
		// attaching the tree is ours.
		err = unix.MoveMount(int(idmapped.Fd()), "", int(dest.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
		if err != nil {
			return fmt.Errorf("attach idmapped mount: %w", err)
		}
	case bind:
		// A bind mount ignores other flags; they need a remount.
		if err := unix.Mount(src, fdPath(dest), "", flags&(unix.MS_BIND|unix.MS_REC), ""); err != nil {
			return err
		}
	case opts.TmpCopyUp && m.Type == "tmpfs":
		// Mounted writable, filled from the directory it covers, and only
		// then given the flags asked for.
		if err := unix.Mount(m.Source, fdPath(dest), m.Type, flags&^unix.MS_RDONLY, opts.Data); err != nil {
			return err
		}
		if err := copyUp(dest, root, m.Destination); err != nil {
			return fmt.Errorf("tmpcopyup: %w", err)
		}
		bind, flags = true, flags|unix.MS_BIND // so the flags are applied by remount below
	default:
		if err := unix.Mount(m.Source, fdPath(dest), m.Type, flags, opts.Data); err != nil {
			return err
		}
	}
	// dest still names the directory under the new mount: reopen the
	// path to act on the mount itself.
	top, err := openInRoot(root, m.Destination)
	if err != nil {
		return err
	}
	defer top.Close()
	if bind || idmapped != nil {
		if extra := flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT); extra != 0 {
			if err := bindRemount(fdPath(top), extra); err != nil {
				return fmt.Errorf("remount with %s: %w", strings.Join(m.Options, ","), err)
			}
		}
	}
	if opts.AttrSet != 0 || opts.AttrClr != 0 {
		attr := unix.MountAttr{Attr_set: opts.AttrSet, Attr_clr: opts.AttrClr}
		if err := unix.MountSetattr(int(top.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
			return fmt.Errorf("mount_setattr (recursive options): %w", err)
		}
	}
	for _, p := range opts.Propagation {
		if err := unix.Mount("", fdPath(top), "", uintptr(p), ""); err != nil {
			return fmt.Errorf("set propagation: %w", err)
		}
	}
	return nil
}

// bindRemount applies flags to a bind mount. A remount replaces the
// mount's flags, so one the kernel locked (a mount from a more privileged
// user namespace keeps nosuid, nodev, noexec, ro and its atime mode)
// makes it fail with EPERM: then it is retried keeping the locked flags,
// as runc does.
func bindRemount(path string, flags uintptr) error {
	err := unix.Mount("", path, "", unix.MS_BIND|unix.MS_REMOUNT|flags, "")
	if !errors.Is(err, unix.EPERM) {
		return err
	}
	return remount(path, flags)
}

// procMountAllowed are the /proc files a mount may cover (what lxcfs
// emulates), as runc allows.
var procMountAllowed = []string{
	"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
	"/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid",
}

// checkProcDest refuses a mount that would cover part of procfs (which
// could hide /proc/self/attr or the like from the runtime's later writes)
// and one whose destination under /proc is not on procfs (a symlink or a
// volume swapped in to redirect it, CVE-2019-16884 / CVE-2019-19921).
func checkProcDest(m specs.Mount, src string, dest *os.File) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(dest.Fd()), &st); err != nil {
		return fmt.Errorf("statfs destination: %w", err)
	}
	onProc := st.Type == unix.PROC_SUPER_MAGIC
	clean := filepath.Clean(m.Destination)
	switch {
	case clean == "/proc":
		if m.Type == "proc" {
			return nil
		}
		if config.IsBind(m) {
			var sst unix.Statfs_t
			if unix.Statfs(src, &sst) == nil && sst.Type == unix.PROC_SUPER_MAGIC {
				return nil
			}
		}
		return errors.New("only procfs may be mounted on /proc")
	case strings.HasPrefix(clean, "/proc/"):
		if !slices.Contains(procMountAllowed, clean) {
			return errors.New("destination is inside /proc: only " + strings.Join(procMountAllowed, ", ") + " may be covered")
		}
		if !onProc {
			return errors.New("destination under /proc is not on procfs (redirected by a symlink?)")
		}
	case onProc:
		return errors.New("destination resolves into procfs through a symlink")
	}
	return nil
}

// copyUp copies the content of the directory under (covered by the new
// tmpfs, still reachable through its descriptor) into the tmpfs at dest,
// keeping modes, owners and the directory's own mode and owner.
func copyUp(under, root *os.File, dest string) error {
	top, err := openInRoot(root, dest)
	if err != nil {
		return err
	}
	defer top.Close()
	src, err := reopenDir(under)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := reopenDir(top)
	if err != nil {
		return err
	}
	defer dst.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &st); err != nil {
		return err
	}
	if err := unix.Fchmod(int(dst.Fd()), st.Mode&0o7777); err != nil {
		return err
	}
	if err := unix.Fchown(int(dst.Fd()), int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	return copyDir(src, dst)
}

func reopenDir(f *os.File) (*os.File, error) {
	fd, err := unix.Openat(int(f.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// copyDir copies every entry of src into dst with *at calls only: no path
// is ever resolved from a name outside these two directories.
func copyDir(src, dst *os.File) error {
	names, err := src.Readdirnames(-1)
	if err != nil {
		return err
	}
	sfd, dfd := int(src.Fd()), int(dst.Fd())
	for _, name := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(sfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		mode := st.Mode & 0o7777
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			if err := unix.Mkdirat(dfd, name, 0o700); err != nil {
				return err
			}
			err = func() error {
				s, err := openDirAt(sfd, name)
				if err != nil {
					return err
				}
				defer s.Close()
				d, err := openDirAt(dfd, name)
				if err != nil {
					return err
				}
				defer d.Close()
				return copyDir(s, d)
			}()
		case unix.S_IFREG:
			err = copyFile(sfd, dfd, name, mode)
		case unix.S_IFLNK:
			var target string
			if target, err = readlinkat(sfd, name); err == nil {
				err = unix.Symlinkat(target, dfd, name)
			}
		default: // devices, fifos, sockets
			err = unix.Mknodat(dfd, name, st.Mode, int(st.Rdev))
		}
		if err != nil {
			return fmt.Errorf("copy %s: %w", name, err)
		}
		if err := unix.Fchownat(dfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown %s: %w", name, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			// After chown, which clears setuid/setgid bits.
			if err := unix.Fchmodat(dfd, name, mode, 0); err != nil {
				return fmt.Errorf("chmod %s: %w", name, err)
			}
		}
	}
	return nil
}

func openDirAt(dirfd int, name string) (*os.File, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

func copyFile(sfd, dfd int, name string, mode uint32) error {
	in, err := unix.Openat(sfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	inF := os.NewFile(uintptr(in), name)
	defer inF.Close()
	out, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	if err != nil {
		return err
	}
	outF := os.NewFile(uintptr(out), name)
	defer outF.Close()
	_, err = io.Copy(outF, inF)
	return err
}

func readlinkat(dirfd int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
