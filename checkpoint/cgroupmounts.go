package checkpoint

import (
	"path"
	"path/filepath"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/huskrt/husk/libcontainer/config"
	"github.com/huskrt/husk/libcontainer/rootfs"
)

// cgroupBinds is a container's cgroup mount on a v1 (or hybrid) host
// without a cgroup namespace: a tmpfs CRIU dumps with its content, holding
// one bind mount per host hierarchy of the container's own cgroup
// directory (see rootfs.mountCgroup). Those binds are external to CRIU,
// as runc declares them: dumped under their destination, restored from
// the restored container's cgroup directories.
type cgroupBinds struct {
	dest string // the mount's destination inside the container
	hier []*mountinfo.Info
}

// v1CgroupBinds returns the container's cgroup bind mounts, or nil when it
// has none: no cgroup mount, a cgroup namespace (real cgroup mounts CRIU
// handles itself) or a cgroup v2 host (one real cgroup2 mount).
func v1CgroupBinds(spec *specs.Spec, rootfsPath string) (*cgroupBinds, error) {
	if config.HasNamespace(spec, specs.CgroupNamespace) {
		return nil, nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil || st.Type == unix.CGROUP2_SUPER_MAGIC {
		return nil, nil
	}
	for _, m := range spec.Mounts {
		if m.Type != "cgroup" && m.Type != "cgroup2" {
			continue
		}
		hier, err := rootfs.V1Hierarchies()
		if err != nil {
			return nil, err
		}
		return &cgroupBinds{dest: mountDest(rootfsPath, m.Destination), hier: hier}, nil
	}
	return nil, nil
}

// add declares each bind to CRIU: key its destination, value what source
// gives for the hierarchy (the key itself at dump).
func (c *cgroupBinds) add(opts *criuOpts, source func(h *mountinfo.Info) string) {
	if c == nil {
		return
	}
	for _, h := range c.hier {
		key := path.Join(c.dest, filepath.Base(h.Mountpoint))
		val := key
		if source != nil {
			val = source(h)
		}
		opts.extMnt = append(opts.extMnt, extMount{key, val})
	}
}
