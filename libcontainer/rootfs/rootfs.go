// Package rootfs builds the container's root filesystem inside its new
// mount namespace and moves the process into it.
//
// Every path inside the container is resolved within the rootfs through
// file descriptors (filepath-securejoin's pathrs-lite), and mounts target
// /proc/self/fd/N of the resolved descriptor, so a symlink in the image can
// never redirect a mount or a write to the host.
package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/huskrt/husk/libcontainer/config"
)

// Options is what Setup needs beyond the spec.
type Options struct {
	Rootfs  string
	Bundle  string
	NoPivot bool
	// NewCgroupNS is true when the container has its own cgroup namespace
	// (cgroup mounts then show the namespace root).
	NewCgroupNS bool
	// InUserNS is true in a new user namespace, where device nodes cannot
	// be created and are bind-mounted from the host instead.
	InUserNS bool
	// BeforeSwitch, when set, runs after the mounts and before the root
	// is switched: where the prestart, createRuntime and createContainer
	// hooks run.
	BeforeSwitch func() error
	// IDMapped holds, by index in spec.Mounts, the detached idmapped
	// trees the parent made for idmap/ridmap mounts.
	IDMapped map[int]*os.File
	// MountLabel is linux.mountLabel: the SELinux context of the
	// container's mounts (ignored without SELinux, see selinux.go).
	MountLabel string
}

// Setup mounts everything the spec asks for under the rootfs and makes it
// the process's root. The caller is in a new mount namespace.
func Setup(spec *specs.Spec, o Options) error {
	// Step 1: stop our mounts from propagating back to the host: always
	// rslave first, whatever rootfsPropagation says (a non-recursive
	// "private" would leave other host mounts shared, and pivot_root
	// refuses a shared root). The value asked for is applied to the
	// container's own root by Finalize.
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("set propagation of / : %w", err)
	}

	// Step 2: pivot_root needs the new root to be a mount point.
	if err := unix.Mount(o.Rootfs, o.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind mount rootfs %s: %w", o.Rootfs, err)
	}
	root, err := os.OpenFile(o.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs %s: %w", o.Rootfs, err)
	}
	defer root.Close()

	// Step 3: the config's mounts, in order.
	devBound := false
	for i, m := range spec.Mounts {
		if err := mountOne(root, m, o, o.IDMapped[i]); err != nil {
			return fmt.Errorf("mounts[%d] (%s on %s): %w", i, m.Type, m.Destination, err)
		}
		if filepath.Clean(m.Destination) == "/dev" && config.IsBind(m) {
			devBound = true
		}
	}
	// Step 4: a /dev the runtime owns gets the default devices, the
	// config's devices and the standard links.
	if !devBound {
		if err := setupDev(root, spec, o.InUserNS); err != nil {
			return err
		}
	}
	// Step 5: the process's cwd exists before it chdirs there.
	if spec.Process != nil && spec.Process.Cwd != "" {
		cwd, err := mkdirInRoot(root, spec.Process.Cwd)
		if err != nil {
			return fmt.Errorf("process.cwd %s: %w", spec.Process.Cwd, err)
		}
		cwd.Close()
	}
	if o.BeforeSwitch != nil {
		if err := o.BeforeSwitch(); err != nil {
			return err
		}
	}
	// Step 6: switch root.
	switchRoot := pivotRoot
	if o.NoPivot {
		switchRoot = moveRoot
	}
	if err := switchRoot(o.Rootfs); err != nil {
		return err
	}
	// Step 7: stdio on the host's /dev/null moves to the container's.
	if !devBound {
		return reopenDevNull()
	}
	return nil
}

// Finalize runs after the switch and after the console is set up:
// masked and read-only paths, then the read-only root.
func Finalize(spec *specs.Spec) error {
	if spec.Linux != nil {
		root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open /: %w", err)
		}
		defer root.Close()
		for _, p := range spec.Linux.ReadonlyPaths {
			if err := readonlyPath(root, p); err != nil {
				return fmt.Errorf("linux.readonlyPaths %s: %w", p, err)
			}
		}
		for _, p := range spec.Linux.MaskedPaths {
			if err := maskPath(root, p); err != nil {
				return fmt.Errorf("linux.maskedPaths %s: %w", p, err)
			}
		}
	}
	// The propagation asked for, on the container's own root, once the
	// runtime's bind mounts are done (an unbindable root would refuse
	// them). "shared" is shared with the container's own mounts only: the
	// host's side is at most a master.
	if spec.Linux != nil && spec.Linux.RootfsPropagation != "" {
		prop, ok := config.PropagationFlag(spec.Linux.RootfsPropagation)
		if !ok {
			return fmt.Errorf("linux.rootfsPropagation: unknown value %q", spec.Linux.RootfsPropagation)
		}
		if err := unix.Mount("", "/", "", uintptr(prop), ""); err != nil {
			return fmt.Errorf("linux.rootfsPropagation %s: %w", spec.Linux.RootfsPropagation, err)
		}
	}
	if spec.Root != nil && spec.Root.Readonly {
		if err := remount("/", unix.MS_RDONLY); err != nil {
			return fmt.Errorf("root.readonly: %w", err)
		}
	}
	return nil
}

// fdPath is how a mount reaches a resolved descriptor.
func fdPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// makeDest creates the mount point inside the rootfs (a directory, or an
// empty file for a file bind mount) and returns a descriptor for it.
func makeDest(root *os.File, dest string, isDir bool) (*os.File, error) {
	if isDir {
		return mkdirInRoot(root, dest)
	}
	parent, err := mkdirInRoot(root, filepath.Dir(dest))
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	name := filepath.Base(dest)
	fd, err := unix.Openat(int(parent.Fd()), name, unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_RDONLY, 0o644)
	if err != nil && !errors.Is(err, unix.ELOOP) && !errors.Is(err, unix.EISDIR) {
		return nil, fmt.Errorf("create mount point %s: %w", dest, err)
	}
	if err == nil {
		unix.Close(fd)
	}
	return openInRoot(root, dest)
}

// remount changes a mount's flags, keeping the flags the kernel locks
// (nosuid, nodev, noexec, atime: a user namespace may not clear them).
func remount(path string, flags uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return err
	}
	locked := uintptr(0)
	for _, f := range []struct{ st, ms uintptr }{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC}, {unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
		{unix.ST_RDONLY, unix.MS_RDONLY},
	} {
		if uintptr(st.Flags)&f.st != 0 {
			locked |= f.ms
		}
	}
	return unix.Mount("", path, "", unix.MS_BIND|unix.MS_REMOUNT|locked|flags, "")
}

// pivotRoot makes rootfs the root and detaches the old one, without
// needing a directory for it inside the rootfs.
func pivotRoot(rootfs string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /: %w", err)
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs %s: %w", rootfs, err)
	}
	defer unix.Close(newroot)
	if err := unix.Fchdir(newroot); err != nil {
		return fmt.Errorf("chdir to rootfs: %w", err)
	}
	// pivot_root(".", ".") stacks the old root on top of the new one; we
	// then unmount it from where we stand.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", rootfs, err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return fmt.Errorf("chdir to old root: %w", err)
	}
	// rslave first, so the detach does not propagate to the host.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount old root: %w", err)
	}
	return unix.Chdir("/")
}

// moveRoot is --no-pivot: for roots pivot_root refuses (e.g. a ramdisk).
// The host's root stays reachable by a process that can escape a chroot,
// which is why it is not the default.
func moveRoot(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("chdir to rootfs %s: %w", rootfs, err)
	}
	if err := unix.Mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move rootfs %s to /: %w", rootfs, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot to rootfs: %w", err)
	}
	return unix.Chdir("/")
}

// maskPath hides p: /dev/null over a file, an empty read-only tmpfs over
// a directory. A path that does not exist needs no mask.
func maskPath(root *os.File, p string) error {
	f, err := openInRoot(root, p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return mountEmptyTmpfs(f)
	}
	null, err := openInRoot(root, "/dev/null")
	if err != nil {
		return err
	}
	defer null.Close()
	if err := unix.Fstat(int(null.Fd()), &st); err != nil {
		return err
	}
	// The container's /dev/null must be the real one to mask with it.
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		return errors.New("/dev/null is not the null device")
	}
	return bindFd(null, f, false)
}

// readonlyPath makes p a read-only bind mount of itself.
func readonlyPath(root *os.File, p string) error {
	f, err := openInRoot(root, p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	defer f.Close()
	if err := bindFd(f, f, true); err != nil {
		return err
	}
	top, err := openInRoot(root, p)
	if err != nil {
		return err
	}
	defer top.Close()
	return makeReadonly(top)
}

// ownCgroup returns this process's cgroup path in the hierarchy whose
// controllers (or name=) match opts, from /proc/self/cgroup.
func ownCgroup(super string, v2 bool) string {
	data, _ := os.ReadFile("/proc/self/cgroup")
	want := map[string]bool{}
	for _, o := range strings.Split(super, ",") {
		want[o] = true
	}
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if v2 && parts[0] == "0" && parts[1] == "" {
			return parts[2]
		}
		if v2 || parts[1] == "" {
			continue
		}
		match := true
		for _, c := range strings.Split(parts[1], ",") {
			if !want[c] {
				match = false
			}
		}
		if match {
			return parts[2]
		}
	}
	return "/"
}
