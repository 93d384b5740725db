package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// defaultDevices are the nodes every container gets (runtime-spec
// "Default Devices").
var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

var devLinks = [][2]string{
	{"/proc/self/fd", "fd"},
	{"/proc/self/fd/0", "stdin"},
	{"/proc/self/fd/1", "stdout"},
	{"/proc/self/fd/2", "stderr"},
	{"pts/ptmx", "ptmx"},
}

// setupDev fills the container's /dev: default devices, linux.devices,
// and the standard symlinks.
func setupDev(root *os.File, spec *specs.Spec, inUserNS bool) error {
	devs := defaultDevices
	if spec.Linux != nil {
		devs = append(append([]specs.LinuxDevice{}, devs...), spec.Linux.Devices...)
	}
	for i, d := range devs {
		if err := makeDevice(root, d, inUserNS); err != nil {
			if i >= len(defaultDevices) {
				return fmt.Errorf("linux.devices[%d] %s: %w", i-len(defaultDevices), d.Path, err)
			}
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
	}
	dev, err := mkdirInRoot(root, "/dev")
	if err != nil {
		return fmt.Errorf("/dev: %w", err)
	}
	defer dev.Close()
	links := devLinks
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "core"})
	}
	for _, l := range links {
		if err := unix.Symlinkat(l[0], int(dev.Fd()), l[1]); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("symlink /dev/%s: %w", l[1], err)
		}
	}
	return nil
}

// makeDevice creates one node, or in a user namespace (where mknod is not
// allowed) bind-mounts the host's node onto an empty file.
func makeDevice(root *os.File, d specs.LinuxDevice, inUserNS bool) error {
	parent, err := mkdirInRoot(root, filepath.Dir(d.Path))
	if err != nil {
		return err
	}
	defer parent.Close()
	name := filepath.Base(d.Path)
	mode := uint32(0o666)
	if d.FileMode != nil {
		mode = uint32(*d.FileMode) & 0o7777
	}
	var typ uint32
	switch d.Type {
	case "c", "u":
		typ = unix.S_IFCHR
	case "b":
		typ = unix.S_IFBLK
	case "p":
		typ = unix.S_IFIFO
	default:
		return fmt.Errorf("unknown device type %q", d.Type)
	}
	if inUserNS {
		if typ == unix.S_IFIFO {
			return unix.Mkfifoat(int(parent.Fd()), name, mode)
		}
		return bindDevice(root, parent, name, d.Path)
	}
	unix.Unlinkat(int(parent.Fd()), name, 0) // the image may ship a stale node
	if err := unix.Mknodat(int(parent.Fd()), name, typ|mode, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))); err != nil {
		return err
	}
	// mknod is subject to the umask; the spec's mode is exact.
	if err := unix.Fchmodat(int(parent.Fd()), name, mode, 0); err != nil {
		return err
	}
	uid, gid := -1, -1
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	return unix.Fchownat(int(parent.Fd()), name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
}

func bindDevice(root, parent *os.File, name, path string) error {
	fd, err := unix.Openat(int(parent.Fd()), name, unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_RDONLY, 0o644)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	if err == nil {
		unix.Close(fd)
	}
	dest, err := openInRoot(root, path)
	if err != nil {
		return err
	}
	defer dest.Close()
	return unix.Mount(path, fdPath(dest), "", unix.MS_BIND, "")
}
