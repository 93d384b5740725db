// Package cgroups is husk's adapter over github.com/opencontainers/cgroups
// (runc's cgroup managers: v1 fs, v2 fs2, systemd, eBPF devices). It maps
// the spec's linux.resources and linux.cgroupsPath onto the library's
// config, picks the driver, checks that every controller the config asks
// for exists, and keeps what `delete` needs in the container's state. The
// library does the cgroup work itself.
package cgroups

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	cg "github.com/opencontainers/cgroups"
	devcfg "github.com/opencontainers/cgroups/devices/config"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Options are the command-line choices that shape the cgroup.
type Options struct {
	ID       string
	Systemd  bool // --systemd-cgroup
	Rootless bool // cgroups may not be writable: do not fail without limits
}

// defaultScopePrefix names husk's systemd scopes (husk-<id>.scope), as runc
// names its own "runc-<id>.scope".
const defaultScopePrefix = "husk"

// ToConfig maps the spec onto the library's cgroup config: cgroupsPath
// semantics per driver and every resource, with runc's default device
// allow-list appended after the spec's rules (as runc's specconv does).
func ToConfig(spec *specs.Spec, o Options) (*cg.Cgroup, error) {
	c := &cg.Cgroup{Systemd: o.Systemd, Rootless: o.Rootless, Resources: &cg.Resources{}}
	var path string
	if spec.Linux != nil {
		path = spec.Linux.CgroupsPath
	}
	switch {
	case o.Systemd && path == "":
		// The library's default parent is system.slice.
		c.ScopePrefix, c.Name = defaultScopePrefix, o.ID
	case o.Systemd:
		parts := strings.Split(path, ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("linux.cgroupsPath: expected \"slice:prefix:name\" for systemd cgroups, got %q", path)
		}
		c.Parent, c.ScopePrefix, c.Name = parts[0], parts[1], parts[2]
	case path == "":
		// Relative: under husk's own cgroup, per controller (as runc).
		c.Name = o.ID
	default:
		if strings.Contains(path, ":") && !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("linux.cgroupsPath %q: looks like a systemd \"slice:prefix:name\" path, but --systemd-cgroup is not set", path)
		}
		c.Path = cleanPath(path)
	}
	if spec.Linux != nil && spec.Linux.Resources != nil {
		if err := toResources(spec.Linux.Resources, c.Resources); err != nil {
			return nil, err
		}
	}
	c.Resources.Devices = append(c.Resources.Devices, defaultDevices(spec)...)
	return c, nil
}

// cleanPath cleans a cgroupsPath so that ".." can never climb above the
// cgroup mount (absolute) or husk's own cgroup (relative).
func cleanPath(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	rel, _ := filepath.Rel("/", filepath.Clean("/"+p))
	return rel
}

// toResources copies linux.resources into the library's Resources.
func toResources(r *specs.LinuxResources, out *cg.Resources) error {
	for i, d := range r.Devices {
		rule, err := deviceRule(d)
		if err != nil {
			return fmt.Errorf("linux.resources.devices[%d]: %w", i, err)
		}
		out.Devices = append(out.Devices, rule)
	}
	if m := r.Memory; m != nil {
		setI64(&out.Memory, m.Limit)
		setI64(&out.MemoryReservation, m.Reservation)
		setI64(&out.MemorySwap, m.Swap)
		out.MemorySwappiness = m.Swappiness
		if m.Swappiness != nil && *m.Swappiness > 100 {
			return fmt.Errorf("linux.resources.memory.swappiness: %d is not in 0..100", *m.Swappiness)
		}
		if m.DisableOOMKiller != nil {
			out.OomKillDisable = *m.DisableOOMKiller
		}
		if m.CheckBeforeUpdate != nil {
			out.MemoryCheckBeforeUpdate = *m.CheckBeforeUpdate
		}
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil {
			out.CpuShares = *c.Shares
			out.CpuWeight = cg.ConvertCPUSharesToCgroupV2Value(*c.Shares)
		}
		setI64(&out.CpuQuota, c.Quota)
		out.CpuBurst = c.Burst
		setU64(&out.CpuPeriod, c.Period)
		setI64(&out.CpuRtRuntime, c.RealtimeRuntime)
		setU64(&out.CpuRtPeriod, c.RealtimePeriod)
		out.CpusetCpus, out.CpusetMems = c.Cpus, c.Mems
		out.CPUIdle = c.Idle
	}
	if r.Pids != nil {
		out.PidsLimit = r.Pids.Limit
	}
	if b := r.BlockIO; b != nil {
		if b.Weight != nil {
			out.BlkioWeight = *b.Weight
		}
		if b.LeafWeight != nil {
			out.BlkioLeafWeight = *b.LeafWeight
		}
		for _, wd := range b.WeightDevice {
			var w, lw uint16
			if wd.Weight != nil {
				w = *wd.Weight
			}
			if wd.LeafWeight != nil {
				lw = *wd.LeafWeight
			}
			out.BlkioWeightDevice = append(out.BlkioWeightDevice, cg.NewWeightDevice(wd.Major, wd.Minor, w, lw))
		}
		throttle := func(in []specs.LinuxThrottleDevice) (o []*cg.ThrottleDevice) {
			for _, t := range in {
				o = append(o, cg.NewThrottleDevice(t.Major, t.Minor, t.Rate))
			}
			return o
		}
		out.BlkioThrottleReadBpsDevice = throttle(b.ThrottleReadBpsDevice)
		out.BlkioThrottleWriteBpsDevice = throttle(b.ThrottleWriteBpsDevice)
		out.BlkioThrottleReadIOPSDevice = throttle(b.ThrottleReadIOPSDevice)
		out.BlkioThrottleWriteIOPSDevice = throttle(b.ThrottleWriteIOPSDevice)
	}
	for _, l := range r.HugepageLimits {
		out.HugetlbLimit = append(out.HugetlbLimit, &cg.HugepageLimit{Pagesize: l.Pagesize, Limit: l.Limit})
	}
	if len(r.Rdma) > 0 {
		out.Rdma = make(map[string]cg.LinuxRdma, len(r.Rdma))
		for k, v := range r.Rdma {
			out.Rdma[k] = cg.LinuxRdma{HcaHandles: v.HcaHandles, HcaObjects: v.HcaObjects}
		}
	}
	if n := r.Network; n != nil {
		if n.ClassID != nil {
			out.NetClsClassid = *n.ClassID
		}
		for _, p := range n.Priorities {
			out.NetPrioIfpriomap = append(out.NetPrioIfpriomap, &cg.IfPrioMap{Interface: p.Name, Priority: int64(p.Priority)})
		}
	}
	if len(r.Unified) > 0 {
		out.Unified = make(map[string]string, len(r.Unified))
		for k, v := range r.Unified {
			out.Unified[k] = v
		}
	}
	return nil
}

func setI64(dst *int64, v *int64) {
	if v != nil {
		*dst = *v
	}
}

func setU64(dst *uint64, v *uint64) {
	if v != nil {
		*dst = *v
	}
}

// deviceRule turns one linux.resources.devices entry into a cgroup rule.
func deviceRule(d specs.LinuxDeviceCgroup) (*devcfg.Rule, error) {
	rule := &devcfg.Rule{Type: devcfg.WildcardDevice, Major: devcfg.Wildcard, Minor: devcfg.Wildcard, Allow: d.Allow}
	switch d.Type {
	case "", "a":
	case "b":
		rule.Type = devcfg.BlockDevice
	case "c":
		rule.Type = devcfg.CharDevice
	default:
		return nil, fmt.Errorf("type %q: want a, b or c", d.Type)
	}
	if d.Major != nil {
		rule.Major = *d.Major
	}
	if d.Minor != nil {
		rule.Minor = *d.Minor
	}
	if d.Access == "" {
		return nil, errors.New("access cannot be empty")
	}
	for _, a := range d.Access {
		if a != 'r' && a != 'w' && a != 'm' {
			return nil, fmt.Errorf("access %q: want a combination of r, w and m", d.Access)
		}
	}
	rule.Permissions = devcfg.Permissions(d.Access)
	return rule, nil
}

// defaultDevice is one entry of runc's AllowedDevices.
type defaultDevice struct {
	path string // "" for rules that are not a device node
	rule devcfg.Rule
}

// allowedDevices is runc's default allow-list (libcontainer/specconv's
// AllowedDevices), appended to every container's rules in this order.
var allowedDevices = []defaultDevice{
	{"", devcfg.Rule{Type: devcfg.CharDevice, Major: devcfg.Wildcard, Minor: devcfg.Wildcard, Permissions: "m", Allow: true}},
	{"", devcfg.Rule{Type: devcfg.BlockDevice, Major: devcfg.Wildcard, Minor: devcfg.Wildcard, Permissions: "m", Allow: true}},
	{"/dev/null", devcfg.Rule{Type: devcfg.CharDevice, Major: 1, Minor: 3, Permissions: "rwm", Allow: true}},
	{"/dev/random", devcfg.Rule{Type: devcfg.CharDevice, Major: 1, Minor: 8, Permissions: "rwm", Allow: true}},
	{"/dev/full", devcfg.Rule{Type: devcfg.CharDevice, Major: 1, Minor: 7, Permissions: "rwm", Allow: true}},
	{"/dev/tty", devcfg.Rule{Type: devcfg.CharDevice, Major: 5, Minor: 0, Permissions: "rwm", Allow: true}},
	{"/dev/zero", devcfg.Rule{Type: devcfg.CharDevice, Major: 1, Minor: 5, Permissions: "rwm", Allow: true}},
	{"/dev/urandom", devcfg.Rule{Type: devcfg.CharDevice, Major: 1, Minor: 9, Permissions: "rwm", Allow: true}},
	// /dev/pts/* and /dev/ptmx
	{"", devcfg.Rule{Type: devcfg.CharDevice, Major: 136, Minor: devcfg.Wildcard, Permissions: "rwm", Allow: true}},
	{"", devcfg.Rule{Type: devcfg.CharDevice, Major: 5, Minor: 2, Permissions: "rwm", Allow: true}},
}

// defaultDevices returns the default rules, leaving out a device node the
// spec lists itself in linux.devices (its entry wins, as in runc).
func defaultDevices(spec *specs.Spec) []*devcfg.Rule {
	var out []*devcfg.Rule
next:
	for _, d := range allowedDevices {
		if d.path != "" && spec.Linux != nil {
			for _, sd := range spec.Linux.Devices {
				if sd.Path == d.path {
					continue next
				}
			}
		}
		r := d.rule
		out = append(out, &r)
	}
	return out
}
