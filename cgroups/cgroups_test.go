package cgroups

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cg "github.com/opencontainers/cgroups"
	devcfg "github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/cgroups/fs2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func u16(v uint16) *uint16 { return &v }
func boolp(v bool) *bool   { return &v }
func u32(v uint32) *uint32 { return &v }

func TestToConfigPaths(t *testing.T) {
	for _, tc := range []struct {
		path    string
		systemd bool
		want    cg.Cgroup
		err     string
	}{
		{"", false, cg.Cgroup{Name: "c1"}, ""},
		{"/a/../../b/c", false, cg.Cgroup{Path: "/b/c"}, ""},
		{"../../x/y", false, cg.Cgroup{Path: "x/y"}, ""},
		{"", true, cg.Cgroup{ScopePrefix: "husk", Name: "c1"}, ""},
		{"machine.slice:libpod:abc", true, cg.Cgroup{Parent: "machine.slice", ScopePrefix: "libpod", Name: "abc"}, ""},
		{"/not/systemd", true, cg.Cgroup{}, `expected "slice:prefix:name"`},
		{"system.slice:husk:abc", false, cg.Cgroup{}, "--systemd-cgroup is not set"},
	} {
		spec := &specs.Spec{Linux: &specs.Linux{CgroupsPath: tc.path}}
		c, err := ToConfig(spec, Options{ID: "c1", Systemd: tc.systemd})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "linux.cgroupsPath") {
				t.Errorf("%q systemd=%v: err %v, want %q", tc.path, tc.systemd, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.path, err)
		}
		if c.Path != tc.want.Path || c.Name != tc.want.Name || c.Parent != tc.want.Parent || c.ScopePrefix != tc.want.ScopePrefix || c.Systemd != tc.systemd {
			t.Errorf("%q systemd=%v: got path=%q name=%q parent=%q prefix=%q", tc.path, tc.systemd, c.Path, c.Name, c.Parent, c.ScopePrefix)
		}
	}
}

func TestToConfigResources(t *testing.T) {
	spec := &specs.Spec{Linux: &specs.Linux{Resources: &specs.LinuxResources{
		Memory:         &specs.LinuxMemory{Limit: i64(1 << 20), Reservation: i64(1 << 19), Swap: i64(2 << 20), Swappiness: u64(10), DisableOOMKiller: boolp(true), CheckBeforeUpdate: boolp(true)},
		CPU:            &specs.LinuxCPU{Shares: u64(1024), Quota: i64(5000), Period: u64(10000), Burst: u64(100), RealtimeRuntime: i64(7), RealtimePeriod: u64(8), Cpus: "0", Mems: "0", Idle: i64(1)},
		Pids:           &specs.LinuxPids{Limit: i64(9)},
		BlockIO:        &specs.LinuxBlockIO{Weight: u16(100), ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{Rate: 5}}},
		Network:        &specs.LinuxNetwork{ClassID: u32(3), Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 2}}},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4}},
		Rdma:           map[string]specs.LinuxRdma{"mlx": {HcaHandles: u32(1)}},
		Unified:        map[string]string{"memory.high": "100"},
	}}}
	c, err := ToConfig(spec, Options{ID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	r := c.Resources
	if r.Memory != 1<<20 || r.MemoryReservation != 1<<19 || r.MemorySwap != 2<<20 || *r.MemorySwappiness != 10 || !r.OomKillDisable || !r.MemoryCheckBeforeUpdate {
		t.Errorf("memory: %+v", r)
	}
	if r.CpuShares != 1024 || r.CpuWeight != cg.ConvertCPUSharesToCgroupV2Value(1024) || r.CpuQuota != 5000 || r.CpuPeriod != 10000 || *r.CpuBurst != 100 ||
		r.CpuRtRuntime != 7 || r.CpuRtPeriod != 8 || r.CpusetCpus != "0" || r.CpusetMems != "0" || *r.CPUIdle != 1 {
		t.Errorf("cpu: %+v", r)
	}
	if *r.PidsLimit != 9 || r.BlkioWeight != 100 || len(r.BlkioThrottleReadBpsDevice) != 1 || r.NetClsClassid != 3 ||
		r.NetPrioIfpriomap[0].CgroupString() != "eth0 2" || r.HugetlbLimit[0].Limit != 4 || *r.Rdma["mlx"].HcaHandles != 1 || r.Unified["memory.high"] != "100" {
		t.Errorf("other resources: %+v", r)
	}
	bad := &specs.Spec{Linux: &specs.Linux{Resources: &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64(101)}}}}
	if _, err := ToConfig(bad, Options{}); err == nil || !strings.Contains(err.Error(), "linux.resources.memory.swappiness") {
		t.Errorf("swappiness 101: %v", err)
	}
}

// The spec's device rules come first, runc's default allow-list after,
// minus the entries of device nodes the spec lists itself.
func TestDeviceRulesOrder(t *testing.T) {
	spec := &specs.Spec{Linux: &specs.Linux{
		Devices:   []specs.LinuxDevice{{Path: "/dev/full", Type: "c", Major: 1, Minor: 7}},
		Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: i64(10), Minor: i64(200), Access: "rw"}}},
	}}
	c, err := ToConfig(spec, Options{ID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range c.Resources.Devices {
		got = append(got, r.CgroupString())
		if !r.Allow {
			got[len(got)-1] = "deny " + got[len(got)-1]
		}
	}
	want := "deny a *:* rwm|c 10:200 rw|c *:* m|b *:* m|c 1:3 rwm|c 1:8 rwm|c 5:0 rwm|c 1:5 rwm|c 1:9 rwm|c 136:* rwm|c 5:2 rwm"
	if strings.Join(got, "|") != want {
		t.Errorf("rules\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
	for _, d := range []specs.LinuxDeviceCgroup{{Access: ""}, {Type: "p", Access: "r"}, {Access: "rx"}} {
		spec := &specs.Spec{Linux: &specs.Linux{Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{d}}}}
		if _, err := ToConfig(spec, Options{}); err == nil || !strings.HasPrefix(err.Error(), "linux.resources.devices[0]") {
			t.Errorf("%+v: %v", d, err)
		}
	}
	_ = devcfg.Wildcard
}

// On a cgroup v2 host a controller the root does not offer is an error
// naming the field, and net_cls/net_prio never exist.
func TestCheckControllersV2(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "cgroup.controllers"), []byte("cpuset cpu io memory pids\n"), 0o644)
	c := &Cgroup{st: &State{}}
	ok := &specs.Spec{Linux: &specs.Linux{Resources: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1)}, Pids: &specs.LinuxPids{Limit: i64(3)}, BlockIO: &specs.LinuxBlockIO{}}}}
	if err := c.checkControllers(ok, true, root); err != nil {
		t.Fatal(err)
	}
	for field, r := range map[string]*specs.LinuxResources{
		"hugepageLimits":  {HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB"}}},
		"rdma":            {Rdma: map[string]specs.LinuxRdma{"x": {}}},
		"network.classID": {Network: &specs.LinuxNetwork{ClassID: u32(1)}},
	} {
		err := c.checkControllers(&specs.Spec{Linux: &specs.Linux{Resources: r}}, true, root)
		if err == nil || !strings.HasPrefix(err.Error(), "linux.resources."+field+":") {
			t.Errorf("%s: %v", field, err)
		}
	}
	// v1: a controller is there when the manager has a path for it.
	c.st.Paths = map[string]string{"memory": "/x"}
	if err := c.checkControllers(&specs.Spec{Linux: &specs.Linux{Resources: &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(1)}}}}, false, root); err == nil || !strings.Contains(err.Error(), "controller pids is not available") {
		t.Errorf("v1 pids missing: %v", err)
	}
}

// The v2 manager writes every limit where the kernel reads it (a fake
// cgroupfs in a temp dir: the library's test mode creates the files).
func TestFs2SetOnFakeCgroupfs(t *testing.T) {
	cg.TestMode = true
	defer func() { cg.TestMode = false }()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte("cpuset cpu io memory pids\n"), 0o644)
	spec := &specs.Spec{Linux: &specs.Linux{Resources: &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(128 << 20)},
		CPU:    &specs.LinuxCPU{Shares: u64(512), Quota: i64(20000), Period: u64(100000)},
		Pids:   &specs.LinuxPids{Limit: i64(42)},
	}}}
	config, err := ToConfig(spec, Options{ID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	config.Resources.SkipDevices = true // no eBPF on a temp dir
	m, err := fs2.NewManager(config, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Set(config.Resources); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"memory.max": "67108864", "memory.swap.max": "67108864", "pids.max": "42",
		"cpu.max": "20000 100000", "cpu.weight": strconv.FormatUint(cg.ConvertCPUSharesToCgroupV2Value(512), 10),
	} {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil || strings.TrimSpace(string(data)) != want {
			t.Errorf("%s: %q (%v), want %q", file, data, err, want)
		}
	}
	// update merges: only the new fields change.
	if err := MergeResources(config.Resources, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(7)}, Memory: &specs.LinuxMemory{Limit: i64(-1)}}); err != nil {
		t.Fatal(err)
	}
	if *config.Resources.PidsLimit != 7 || config.Resources.Memory != -1 || config.Resources.MemorySwap != -1 || config.Resources.CpuQuota != 20000 {
		t.Errorf("merge: %+v", config.Resources)
	}
}

// OOM notification on v2: an oom_kill increase in memory.events is one
// event; the cgroup emptying ends the stream.
func TestNotifyOOMv2(t *testing.T) {
	dir := t.TempDir()
	write := func(file, s string) {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n")
	write("cgroup.events", "populated 1\nfrozen 0\n")
	ch, err := notifyOOMv2(dir)
	if err != nil {
		t.Fatal(err)
	}
	write("memory.events", "low 0\nhigh 0\nmax 1\noom 1\noom_kill 1\n")
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatal("channel closed, want an OOM event")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no OOM event after oom_kill went up")
	}
	write("cgroup.events", "populated 0\nfrozen 0\n")
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("extra OOM event, want the channel closed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("channel not closed after the cgroup emptied")
	}
}

// Destroy removes the intermediate directories husk created, but not one
// that existed before.
func TestDestroyRemovesCreatedParents(t *testing.T) {
	base := t.TempDir()
	os.MkdirAll(filepath.Join(base, "pre"), 0o755)
	leaf := filepath.Join(base, "pre", "a", "b", "leaf")
	st := &State{Config: &cg.Cgroup{Resources: &cg.Resources{}}, Paths: map[string]string{"": leaf}, Created: map[string]string{leaf: firstMissing(leaf)}}
	if st.Created[leaf] != filepath.Join(base, "pre", "a") {
		t.Fatalf("firstMissing: %q", st.Created[leaf])
	}
	os.MkdirAll(leaf, 0o755)
	m, _ := fs2.NewManager(st.Config, leaf)
	c := &Cgroup{st: st, m: m}
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(base, "pre", "a")); !os.IsNotExist(err) {
		t.Errorf("intermediate dir left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(base, "pre")); err != nil {
		t.Errorf("pre-existing dir removed: %v", err)
	}
}
