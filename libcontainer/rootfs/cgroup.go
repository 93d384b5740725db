package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/huskrt/husk/libcontainer/config"
)

// mountCgroup gives the container a view of its own cgroups at the
// mount's destination. On a cgroup v2 host that is one cgroup2 mount. On
// a v1 (or hybrid) host it is a tmpfs with one entry per hierarchy, as
// the host has them. With a cgroup namespace every entry is a fresh mount
// (which shows the namespace's root); without, it is a bind mount of the
// container's own cgroup directory, so the host's tree is never shown.
func mountCgroup(root *os.File, m specs.Mount, opts config.MountOptions, o Options) error {
	flags := uintptr(opts.Flags) &^ (unix.MS_BIND | unix.MS_REC)
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return fmt.Errorf("statfs /sys/fs/cgroup: %w", err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return mountHierarchy(root, m.Destination, "/sys/fs/cgroup", "", true, flags, o.NewCgroupNS)
	}

	dest, err := mkdirInRoot(root, m.Destination)
	if err != nil {
		return err
	}
	defer dest.Close()
	// Mount the tmpfs writable, fill it, then make it read-only if asked.
	if err := unix.Mount("tmpfs", fdPath(dest), "tmpfs", flags&^unix.MS_RDONLY, "mode=755"); err != nil {
		return fmt.Errorf("mount tmpfs: %w", err)
	}
	top, err := openInRoot(root, m.Destination)
	if err != nil {
		return err
	}
	defer top.Close()
	hier, err := V1Hierarchies()
	if err != nil {
		return err
	}
	for _, h := range hier {
		name := filepath.Base(h.Mountpoint)
		err := mountHierarchy(root, filepath.Join(m.Destination, name), h.Mountpoint, h.VFSOptions, h.FSType == "cgroup2", flags, o.NewCgroupNS)
		if err != nil {
			return fmt.Errorf("cgroup hierarchy %s: %w", name, err)
		}
		// cpu,cpuacct is also reachable as cpu and cpuacct.
		if strings.Contains(name, ",") {
			for _, alias := range strings.Split(name, ",") {
				unix.Symlinkat(name, int(top.Fd()), alias)
			}
		}
	}
	if flags&unix.MS_RDONLY != 0 {
		return remount(fdPath(top), unix.MS_RDONLY)
	}
	return nil
}

// V1Hierarchies lists the cgroup mounts directly under /sys/fs/cgroup of
// a v1 or hybrid host: what a container's cgroup mount shows, one entry
// each, named as on the host (checkpoint names the same entries to CRIU).
func V1Hierarchies() ([]*mountinfo.Info, error) {
	return mountinfo.GetMounts(func(i *mountinfo.Info) (skip, stop bool) {
		return (i.FSType != "cgroup" && i.FSType != "cgroup2") || filepath.Dir(i.Mountpoint) != "/sys/fs/cgroup", false
	})
}

// CgroupBindSource is the host directory a container without a cgroup
// namespace sees in hierarchy h, given a process's cgroups by controller
// (as cgroups.ParseCgroupFile returns them, "" for cgroup v2).
func CgroupBindSource(h *mountinfo.Info, paths map[string]string) string {
	key := ""
	if h.FSType != "cgroup2" {
		key, _, _ = strings.Cut(cgroupSubsystems(h.VFSOptions), ",")
	}
	return filepath.Join(h.Mountpoint, paths[key])
}

// mountHierarchy mounts one cgroup hierarchy (whose host mount point is
// hostMnt and super options super) at dest inside root.
func mountHierarchy(root *os.File, dest, hostMnt, super string, v2 bool, flags uintptr, newNS bool) error {
	d, err := mkdirInRoot(root, dest)
	if err != nil {
		return err
	}
	defer d.Close()
	if newNS {
		if v2 {
			return unix.Mount("cgroup2", fdPath(d), "cgroup2", flags, "")
		}
		return unix.Mount("cgroup", fdPath(d), "cgroup", flags, cgroupSubsystems(super))
	}
	src := filepath.Join(hostMnt, ownCgroup(cgroupSubsystems(super), v2))
	if err := unix.Mount(src, fdPath(d), "", unix.MS_BIND, ""); err != nil {
		return err
	}
	extra := flags &^ unix.MS_REMOUNT
	if extra == 0 {
		return nil
	}
	top, err := openInRoot(root, dest)
	if err != nil {
		return err
	}
	defer top.Close()
	return remount(fdPath(top), extra)
}

// cgroupSubsystems keeps the controller and name= entries of a v1 cgroup
// mount's super options (dropping rw and the like).
func cgroupSubsystems(super string) string {
	var out []string
	for _, o := range strings.Split(super, ",") {
		switch {
		case o == "rw" || o == "ro" || o == "" || strings.HasPrefix(o, "release_agent") || o == "clone_children" || o == "noprefix" || o == "xattr" || o == "nsdelegate" || o == "memory_recursiveprot":
		default:
			out = append(out, o)
		}
	}
	return strings.Join(out, ",")
}
