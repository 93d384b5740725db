package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	cg "github.com/opencontainers/cgroups"
	_ "github.com/opencontainers/cgroups/devices" // v1 devices cgroup and v2 eBPF device filter
	"github.com/opencontainers/cgroups/fs2"
	"github.com/opencontainers/cgroups/manager"
	"github.com/opencontainers/cgroups/systemd"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// State is what a container's state.json keeps about its cgroup, written
// before any directory exists, so that `delete --force` of a container
// whose create was killed finds and removes it.
type State struct {
	Config *cg.Cgroup        `json:"config"`
	Paths  map[string]string `json:"paths"`
	// Created maps each cgroup path to the top-most directory husk had
	// to create for it (nested cgroupsPaths), so delete removes the
	// intermediate directories too and leaves no empty ones behind.
	Created map[string]string `json:"created,omitempty"`
}

// Cgroup is one container's cgroup.
type Cgroup struct {
	st *State
	m  cg.Manager
	// kernelTCP is linux.resources.memory.kernelTCP: the library no
	// longer sets it (the kernel deprecated it), v1 kernels still take it.
	kernelTCP *int64
}

// New picks the driver and computes the cgroup's paths from the spec; it
// creates nothing. It fails with an error naming the field when the config
// asks for a controller the host does not have.
func New(spec *specs.Spec, o Options) (*Cgroup, error) {
	if o.Systemd && !systemd.IsRunningSystemd() {
		return nil, errors.New("--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); use the cgroupfs driver")
	}
	config, err := ToConfig(spec, o)
	if err != nil {
		return nil, err
	}
	v2 := cg.IsCgroup2UnifiedMode()
	if !v2 && config.Resources.Unified != nil {
		return nil, errors.New("linux.resources.unified: cannot be set on a cgroup v1 host")
	}
	m, err := manager.New(config)
	if err != nil {
		return nil, fmt.Errorf("cgroup manager: %w", err)
	}
	c := &Cgroup{st: &State{Config: config, Paths: clonePaths(m.GetPaths())}, m: m}
	if spec.Linux != nil && spec.Linux.Resources != nil && spec.Linux.Resources.Memory != nil && !v2 {
		c.kernelTCP = spec.Linux.Resources.Memory.KernelTCP
	}
	if err := c.checkControllers(spec, v2, fs2.UnifiedMountpoint); err != nil {
		return nil, err
	}
	if !config.Systemd {
		c.st.Created = map[string]string{}
		for _, p := range c.st.Paths {
			if top := firstMissing(p); top != "" {
				c.st.Created[p] = top
			}
		}
	}
	return c, nil
}

// Load reopens a container's cgroup from its saved state.
func Load(st *State) (*Cgroup, error) {
	if st == nil || st.Config == nil {
		return nil, errors.New("container has no cgroup")
	}
	if st.Config.Resources == nil {
		st.Config.Resources = &cg.Resources{}
	}
	if st.Config.Systemd && !systemd.IsRunningSystemd() {
		return nil, errors.New("container uses the systemd cgroup driver, but systemd is not running")
	}
	m, err := manager.NewWithPaths(st.Config, clonePaths(st.Paths))
	if err != nil {
		return nil, fmt.Errorf("cgroup manager: %w", err)
	}
	return &Cgroup{st: st, m: m}, nil
}

func clonePaths(p map[string]string) map[string]string {
	out := make(map[string]string, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

// State returns what to save in the container's state.
func (c *Cgroup) State() *State { return c.st }

// Prepare makes the cgroup before any process is in it, so that create
// can do it while other setup runs; Join then only moves the process in.
// systemd cannot make a scope without a process, and a rootless cgroup may
// not be writable: there Join does it all.
func (c *Cgroup) Prepare() error {
	if c.st.Config.Systemd || c.st.Config.Rootless {
		return nil
	}
	if err := c.m.Apply(-1); err != nil {
		return fmt.Errorf("create cgroup: %w", err)
	}
	return nil
}

// writeDevicesInOrder writes a new v1 cgroup's device rules one by one in
// the config's order (the default allow-list after them), which is what
// the spec asks for and the order devices.list then shows. The library's
// own pass that follows finds nothing left to change and checks the
// result; on its own it would write a minimal transition in its order.
func (c *Cgroup) writeDevicesInOrder() error {
	dir, ok := c.st.Paths["devices"]
	cfg := c.st.Config
	if !ok || dir == "" || cfg.Systemd || cfg.Rootless || cfg.Resources == nil || cfg.Resources.SkipDevices {
		return nil
	}
	for _, r := range cfg.Resources.Devices {
		file := "devices.deny"
		if r.Allow {
			file = "devices.allow"
		}
		if err := cg.WriteFile(dir, file, r.CgroupString()); err != nil {
			return fmt.Errorf("linux.resources.devices: %s %q: %w", file, r.CgroupString(), err)
		}
	}
	return nil
}

// Join puts pid (the container's first process) into the cgroup.
func (c *Cgroup) Join(pid int) error {
	if !c.st.Config.Systemd && !c.st.Config.Rootless {
		return c.AddPid(pid, nil)
	}
	// ErrRootless: the cgroup could not be written (rootless);
	// SetResources then fails only if the config asks for limits, as in
	// runc.
	if err := c.m.Apply(pid); err != nil && !errors.Is(err, cg.ErrRootless) {
		return fmt.Errorf("create cgroup and add pid %d: %w", pid, err)
	}
	return nil
}

// SetResources applies linux.resources. create calls it when init reports
// ready, as runc does: a pids limit set earlier would also count the
// threads init's Go runtime starts after joining, and could stop it.
func (c *Cgroup) SetResources() error {
	if err := c.writeDevicesInOrder(); err != nil {
		return err
	}
	if err := c.m.Set(c.st.Config.Resources); err != nil {
		return fmt.Errorf("set cgroup resources (linux.resources): %w", err)
	}
	if c.kernelTCP != nil {
		// A kernel without TCP accounting has no such file: the limit is
		// deprecated, so that is not an error (as runc 1.2 ignores it).
		f := filepath.Join(c.st.Paths["memory"], "memory.kmem.tcp.limit_in_bytes")
		if _, err := os.Stat(f); err == nil {
			if err := os.WriteFile(f, []byte(strconv.FormatInt(*c.kernelTCP, 10)), 0); err != nil {
				return fmt.Errorf("linux.resources.memory.kernelTCP: write %s: %w", f, err)
			}
		}
	}
	return nil
}

// Destroy removes the cgroup on every driver, and the intermediate
// directories husk created for it. Nothing there is not an error.
func (c *Cgroup) Destroy() error {
	if err := c.m.Destroy(); err != nil {
		return fmt.Errorf("remove cgroup: %w", err)
	}
	for leaf, top := range c.st.Created {
		for d := filepath.Dir(leaf); d == top || strings.HasPrefix(d, top+"/"); d = filepath.Dir(d) {
			// A sibling container's cgroup keeps the directory busy:
			// that is fine, it removes it when it goes.
			if err := unix.Rmdir(d); err != nil && err != unix.ENOENT {
				break
			}
			if d == top {
				break
			}
		}
	}
	return nil
}

// firstMissing returns the top-most directory of p that does not exist
// yet ("" when p exists).
func firstMissing(p string) string {
	top := ""
	for d := p; d != "/" && d != "."; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		top = d
	}
	return top
}

// AddPid puts pid (a process exec'd into the container) in the cgroup or,
// with subs (exec --cgroup: controller -> path below the container's
// cgroup, "" for every controller without an entry of its own), in
// sub-cgroups of it, which must exist. A rootless container's cgroup
// that could not be made or written is skipped: its init is not in it
// either.
func (c *Cgroup) AddPid(pid int, subs map[string]string) error {
	perController := false
	for k := range subs {
		perController = perController || k != ""
	}
	if !perController && !c.st.Config.Rootless {
		// The library's AddPid takes one sub-cgroup for every controller.
		if err := c.m.AddPid(subs[""], pid); err != nil {
			return fmt.Errorf("join cgroup %s: %w", subs[""], err)
		}
		return nil
	}
	for ctrl, dir := range c.m.GetPaths() {
		sub, ok := subs[ctrl]
		if !ok {
			sub = subs[""]
		}
		p := filepath.Join(dir, sub)
		if p != dir && !strings.HasPrefix(p, dir+"/") {
			return fmt.Errorf("join cgroup: bad sub-cgroup %q", sub)
		}
		if err := cg.WriteCgroupProc(p, pid); err != nil {
			if c.st.Config.Rootless && (errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) || errors.Is(err, unix.EROFS)) {
				continue
			}
			return fmt.Errorf("join cgroup %s: %w", p, err)
		}
	}
	return nil
}

// Exists reports whether the cgroup directory is there.
func (c *Cgroup) Exists() bool { return c.m.Exists() }

// Pause freezes every process of the container.
func (c *Cgroup) Pause() error {
	if err := c.m.Freeze(cg.Frozen); err != nil {
		return fmt.Errorf("freeze cgroup: %w", err)
	}
	return nil
}

// Resume thaws the container.
func (c *Cgroup) Resume() error {
	if err := c.m.Freeze(cg.Thawed); err != nil {
		return fmt.Errorf("thaw cgroup: %w", err)
	}
	return nil
}

// Paused reports whether the cgroup is frozen.
func (c *Cgroup) Paused() bool {
	st, err := c.m.GetFreezerState()
	return err == nil && st == cg.Frozen
}

// Pids lists the processes in the cgroup and its sub-cgroups.
func (c *Cgroup) Pids() ([]int, error) {
	pids, err := c.m.GetAllPids()
	if err != nil {
		return nil, fmt.Errorf("list cgroup processes: %w", err)
	}
	sort.Ints(pids)
	return pids, nil
}

// Stats reads the cgroup's statistics.
func (c *Cgroup) Stats() (*cg.Stats, error) {
	s, err := c.m.GetStats()
	if err != nil {
		return nil, fmt.Errorf("read cgroup stats: %w", err)
	}
	return s, nil
}

// OOMKillCount is the number of processes the OOM killer killed in the
// cgroup.
func (c *Cgroup) OOMKillCount() (uint64, error) { return c.m.OOMKillCount() }

// MemoryPath is the directory with the memory controller's files (for OOM
// notifications), and whether it is a v2 cgroup.
func (c *Cgroup) MemoryPath() (string, bool) {
	if cg.IsCgroup2UnifiedMode() {
		return c.m.Path(""), true
	}
	return c.m.Path("memory"), false
}

// Update merges r into the container's resources (fields r leaves out keep
// their value) and applies them; device rules are left as they are, as
// in runc.
func (c *Cgroup) Update(r *specs.LinuxResources) error {
	res := c.st.Config.Resources
	if err := MergeResources(res, r); err != nil {
		return err
	}
	if res.Unified != nil && !cg.IsCgroup2UnifiedMode() {
		return errors.New("unified: cannot be set on a cgroup v1 host")
	}
	res.SkipDevices = true
	defer func() { res.SkipDevices = false }()
	if err := c.m.Set(res); err != nil {
		return fmt.Errorf("update cgroup resources: %w", err)
	}
	return nil
}

// MergeResources applies the fields r sets onto res, as runc's update.
func MergeResources(res *cg.Resources, r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if b := r.BlockIO; b != nil && b.Weight != nil {
		res.BlkioWeight = *b.Weight
	}
	if c := r.CPU; c != nil {
		setU64(&res.CpuPeriod, c.Period)
		setI64(&res.CpuQuota, c.Quota)
		if c.Burst != nil {
			res.CpuBurst = c.Burst
		}
		if c.Shares != nil {
			res.CpuShares = *c.Shares
			res.CpuWeight = cg.ConvertCPUSharesToCgroupV2Value(*c.Shares)
		}
		setU64(&res.CpuRtPeriod, c.RealtimePeriod)
		setI64(&res.CpuRtRuntime, c.RealtimeRuntime)
		if c.Cpus != "" {
			res.CpusetCpus = c.Cpus
		}
		if c.Mems != "" {
			res.CpusetMems = c.Mems
		}
		if c.Idle != nil {
			res.CPUIdle = c.Idle
		}
	}
	if m := r.Memory; m != nil {
		if m.Limit != nil {
			res.Memory = *m.Limit
			// "-1" for memory alone means memory and swap unlimited
			// (v1 refuses a swap limit below the memory limit).
			if *m.Limit == -1 && m.Swap == nil {
				res.MemorySwap = -1
			}
		}
		setI64(&res.MemoryReservation, m.Reservation)
		setI64(&res.MemorySwap, m.Swap)
		if m.CheckBeforeUpdate != nil {
			res.MemoryCheckBeforeUpdate = *m.CheckBeforeUpdate
		}
		if m.Swappiness != nil {
			res.MemorySwappiness = m.Swappiness
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		l := *r.Pids.Limit
		res.PidsLimit = &l
	}
	if r.Unified != nil {
		res.Unified = r.Unified
	}
	return nil
}

// checkControllers fails, naming the field, when the config asks for a
// controller the host lacks. The library would otherwise fail with a
// vaguer error (v1) or silently skip (v2).
// v2root is the cgroup2 mount whose cgroup.controllers lists what exists.
func (c *Cgroup) checkControllers(spec *specs.Spec, v2 bool, v2root string) error {
	if spec.Linux == nil || spec.Linux.Resources == nil {
		return nil
	}
	r := spec.Linux.Resources
	type need struct {
		field, v1, v2 string
		asked         bool
	}
	cpu := r.CPU != nil
	needs := []need{
		{"memory", "memory", "memory", r.Memory != nil && (r.Memory.Limit != nil || r.Memory.Reservation != nil || r.Memory.Swap != nil || r.Memory.Swappiness != nil || r.Memory.DisableOOMKiller != nil)},
		{"cpu", "cpu", "cpu", cpu && (r.CPU.Shares != nil || r.CPU.Quota != nil || r.CPU.Period != nil || r.CPU.Burst != nil || r.CPU.RealtimePeriod != nil || r.CPU.RealtimeRuntime != nil || r.CPU.Idle != nil)},
		{"cpu.cpus", "cpuset", "cpuset", cpu && r.CPU.Cpus != ""},
		{"cpu.mems", "cpuset", "cpuset", cpu && r.CPU.Mems != ""},
		{"pids", "pids", "pids", r.Pids != nil && r.Pids.Limit != nil},
		{"blockIO", "blkio", "io", r.BlockIO != nil},
		{"hugepageLimits", "hugetlb", "hugetlb", len(r.HugepageLimits) > 0},
		{"network.classID", "net_cls", "", r.Network != nil && r.Network.ClassID != nil},
		{"network.priorities", "net_prio", "", r.Network != nil && len(r.Network.Priorities) > 0},
		{"rdma", "rdma", "rdma", len(r.Rdma) > 0},
	}
	var v2ctl map[string]bool
	if v2 {
		v2ctl = map[string]bool{}
		data, _ := os.ReadFile(filepath.Join(v2root, "cgroup.controllers"))
		for _, f := range strings.Fields(string(data)) {
			v2ctl[f] = true
		}
	}
	for _, n := range needs {
		if !n.asked {
			continue
		}
		if v2 {
			if n.v2 == "" {
				return fmt.Errorf("linux.resources.%s: the %s controller does not exist on cgroup v2", n.field, n.v1)
			}
			if !v2ctl[n.v2] {
				return fmt.Errorf("linux.resources.%s: cgroup controller %s is not available on this host", n.field, n.v2)
			}
			continue
		}
		if _, ok := c.st.Paths[n.v1]; !ok {
			return fmt.Errorf("linux.resources.%s: cgroup controller %s is not available on this host", n.field, n.v1)
		}
	}
	return nil
}
