package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cgroup files by layout: on a v1 (or hybrid) host each controller has its
// hierarchy; on a v2 host one directory has every file.
type cgFile struct{ ctrl, v1, v2 string }

var (
	fMemory = cgFile{"memory", "memory.limit_in_bytes", "memory.max"}
	fPids   = cgFile{"pids", "pids.max", "pids.max"}
	fQuota  = cgFile{"cpu", "cpu.cfs_quota_us", "cpu.max"}
)

// want returns what the file shows for the limits the tests set.
func (f cgFile) want(v1, v2 string) string {
	if cgroup2Only() {
		return v2
	}
	return v1
}

// hostCgroupDir returns the host directory of pid's cgroup for ctrl.
func hostCgroupDir(t *testing.T, pid int, ctrl string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if cgroup2Only() && parts[0] == "0" {
			return filepath.Join("/sys/fs/cgroup", parts[2])
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == ctrl {
				return filepath.Join("/sys/fs/cgroup", ctrl, parts[2])
			}
		}
	}
	t.Fatalf("pid %d has no %s cgroup: %s", pid, ctrl, data)
	return ""
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// assertNoCgroup fails when any cgroup directory whose name contains name
// is left under /sys/fs/cgroup.
func assertNoCgroup(t *testing.T, name string) {
	t.Helper()
	var left []string
	filepath.WalkDir("/sys/fs/cgroup", func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.Contains(d.Name(), name) {
			left = append(left, p)
			return filepath.SkipDir
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("cgroup directories left behind: %v", left)
	}
}

func limitsSpec(s *specs.Spec) {
	mem, pids, quota, period := int64(64<<20), int64(32), int64(20000), uint64(100000)
	s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &mem}
	s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &pids}
	s.Linux.Resources.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
}

func setCgroupNS(s *specs.Spec, on bool) {
	var nss []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != specs.CgroupNamespace {
			nss = append(nss, ns)
		}
	}
	if on {
		nss = append(nss, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	s.Linux.Namespaces = nss
}

// insidePath is where a file of f shows inside the container.
func (f cgFile) inside() string {
	if cgroup2Only() {
		return "/sys/fs/cgroup/" + f.v2
	}
	return "/sys/fs/cgroup/" + f.ctrl + "/" + f.v1
}

func (f cgFile) hostPath(t *testing.T, pid int) string {
	name := f.v1
	if cgroup2Only() {
		name = f.v2
	}
	return filepath.Join(hostCgroupDir(t, pid, f.ctrl), name)
}

// testLimits runs a container with memory, cpu and pids limits and checks
// them from inside (with and without a cgroup namespace) and from the
// host, and that delete removes the cgroup.
func testLimits(t *testing.T) {
	files := []cgFile{fMemory, fPids, fQuota}
	want := []string{fMemory.want("67108864", "67108864"), fPids.want("32", "32"), fQuota.want("20000", "20000 100000")}
	for _, withNS := range []bool{true, false} {
		e := newEnv(t)
		var cmd []string
		for _, f := range files {
			cmd = append(cmd, "cat "+f.inside())
		}
		s := e.spec("sh", "-c", strings.Join(cmd, "; ")+"; grep -c . /proc/self/cgroup; cut -d: -f3 /proc/self/cgroup | sort -u")
		limitsSpec(s)
		setCgroupNS(s, withNS)
		e.write(s)
		r := e.husk("run", e.id)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 0 || len(lines) < 5 {
			t.Fatalf("cgroupns=%v: run: %v", withNS, r)
		}
		for i := range files {
			if lines[i] != want[i] {
				t.Errorf("cgroupns=%v: inside %s = %q, want %q", withNS, files[i].inside(), lines[i], want[i])
			}
		}
		paths := lines[4:]
		if withNS && (len(paths) != 1 || paths[0] != "/") {
			t.Errorf("cgroup namespace: /proc/self/cgroup paths %q, want only /", paths)
		}
		if !withNS && !strings.Contains(strings.Join(paths, " "), e.id) {
			t.Errorf("no cgroup namespace: /proc/self/cgroup paths %q do not name the container's cgroup %s", paths, e.id)
		}
		assertNoCgroup(t, e.id)
	}

	// The host sees the same limits in the container's cgroup.
	e := newEnv(t)
	s := e.spec("sleep", "60")
	limitsSpec(s)
	e.write(s)
	e.must("run", "-d", e.id)
	pid := e.state(e.id).Pid
	for i, f := range files {
		if got := readTrim(t, f.hostPath(t, pid)); got != want[i] {
			t.Errorf("host %s = %q, want %q", f.hostPath(t, pid), got, want[i])
		}
		if !strings.Contains(f.hostPath(t, pid), e.id) {
			t.Errorf("container cgroup %s is not named after the container", f.hostPath(t, pid))
		}
	}
	e.must("delete", "--force", e.id)
	e.assertGone(e.id, pid)
	assertNoCgroup(t, e.id)
}

// testDevices: the spec's rules come before runc's default allow-list,
// which drops the entry of a node the spec lists itself (/dev/full here):
// deny-all then blocks /dev/full (EPERM instead of ENOSPC), and an allow
// rule opens it again.
func testDevices(t *testing.T) {
	for _, allow := range []bool{false, true} {
		e := newEnv(t)
		runDeviceRules(t, e, e.spec, allow)
		assertNoCgroup(t, e.id)
	}
}

// runDeviceRules runs a container (spec made by mk, husk called with
// global first) that writes to /dev/full and /dev/null under a deny-all
// rule, plus an allow rule for /dev/full when allow is set, and checks
// what the writes did.
func runDeviceRules(t *testing.T, e *env, mk func(args ...string) *specs.Spec, allow bool, global ...string) {
	t.Helper()
	major, minor := int64(1), int64(7)
	s := mk("sh", "-c", "echo x > /dev/full; echo x > /dev/null && echo null-ok")
	mode := os.FileMode(0o666)
	s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/full", Type: "c", Major: 1, Minor: 7, FileMode: &mode})
	s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	if allow {
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "rw"})
	}
	e.write(s)
	r := e.husk(append(global, "run", e.id)...)
	if r.code != 0 || !strings.Contains(r.stdout, "null-ok") {
		t.Fatalf("allow=%v: %v", allow, r)
	}
	want := "Operation not permitted"
	if allow {
		want = "No space left on device"
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("allow=%v: writing /dev/full: stderr %q, want %q", allow, r.stderr, want)
	}
}

func TestCgroupLimitsInsideAndFromHost(t *testing.T) { testLimits(t) }
func TestCgroupDeviceRules(t *testing.T)             { testDevices(t) }

// freezerState reads the container's freezer from the host.
func freezerState(t *testing.T, pid int) string {
	if cgroup2Only() {
		if readTrim(t, filepath.Join(hostCgroupDir(t, pid, ""), "cgroup.freeze")) == "1" {
			return "FROZEN"
		}
		return "THAWED"
	}
	return readTrim(t, filepath.Join(hostCgroupDir(t, pid, "freezer"), "freezer.state"))
}

func testPauseResume(t *testing.T) {
	e := newEnv(t)
	e.write(e.spec("sleep", "60"))
	e.fails("does not exist", "pause", "nonexistent-"+e.id)
	e.must("run", "-d", e.id)
	pid := e.state(e.id).Pid
	e.fails("container not paused", "resume", e.id)
	e.must("pause", e.id)
	if st := e.state(e.id).Status; st != "paused" {
		t.Fatalf("status after pause: %q", st)
	}
	if fs := freezerState(t, pid); fs != "FROZEN" {
		t.Fatalf("freezer after pause: %q", fs)
	}
	// A frozen process does not run: its state letter stays stopped/sleeping
	// and it never exits on SIGTERM until thawed.
	e.fails("not stopped: paused", "delete", e.id)
	e.must("resume", e.id)
	if st := e.state(e.id).Status; st != "running" {
		t.Fatalf("status after resume: %q", st)
	}
	if fs := freezerState(t, pid); fs != "THAWED" {
		t.Fatalf("freezer after resume: %q", fs)
	}
	// delete --force of a paused container thaws and kills it.
	e.must("pause", e.id)
	e.must("delete", "--force", e.id)
	e.assertGone(e.id, pid)
	assertNoCgroup(t, e.id)
}

func TestCgroupPauseResume(t *testing.T) { testPauseResume(t) }

func TestCgroupUpdate(t *testing.T) { testUpdate(t) }

func testUpdate(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sleep", "60")
	limitsSpec(s)
	e.write(s)
	e.must("run", "-d", e.id)
	pid := e.state(e.id).Pid
	r := e.husk("update", "--memory", "32m", "--pids-limit", "50", "--cpu-quota", "30000", "--kernel-memory", "10m", e.id)
	if r.code != 0 || !strings.Contains(r.stderr, "--kernel-memory is ignored") {
		t.Fatalf("update with flags: %v", r)
	}
	check := func(f cgFile, want string) {
		t.Helper()
		if got := readTrim(t, f.hostPath(t, pid)); got != want {
			t.Errorf("%s = %q, want %q", f.hostPath(t, pid), got, want)
		}
	}
	check(fMemory, "33554432")
	check(fPids, "50")
	check(fQuota, fQuota.want("30000", "30000 100000"))

	// -r FILE: a LinuxResources JSON; what it leaves out keeps its value.
	res := filepath.Join(t.TempDir(), "res.json")
	os.WriteFile(res, []byte(`{"pids":{"limit":77}}`), 0o644)
	e.must("update", "-r", res, e.id)
	check(fPids, "77")
	check(fMemory, "33554432")
	// -r -: from stdin.
	r = e.huskCmd(func(c *exec.Cmd) { c.Stdin = strings.NewReader(`{"memory":{"limit":16777216}}`) }, "update", "-r", "-", e.id)
	if r.code != 0 {
		t.Fatalf("update -r -: %v", r)
	}
	check(fMemory, "16777216")
	check(fPids, "77")

	e.fails("intelRdt is not supported", "update", "--l3-cache-schema", "L3:0=f", e.id)
	e.fails("intelRdt is not supported", "update", "--mem-bw-schema", "MB:0=20", e.id)
	e.fails("invalid value for memory", "update", "--memory", "lots", e.id)
	e.fails("invalid LinuxResources JSON", "update", "-r", "/dev/null", e.id)
	e.must("delete", "--force", e.id)
	e.fails("does not exist", "update", "--memory", "32m", e.id)
	assertNoCgroup(t, e.id)
}

func TestCgroupPs(t *testing.T) {
	e := newEnv(t)
	e.write(e.spec("sh", "-c", "sleep 61 & sleep 62 & wait"))
	e.must("run", "-d", e.id)
	pid := e.state(e.id).Pid
	var pids []int
	// The shell forks its children right after it starts.
	for i := 0; i < 100; i++ {
		out := e.must("ps", "-f", "json", e.id)
		if err := json.Unmarshal([]byte(out), &pids); err != nil {
			t.Fatalf("ps -f json: %v: %q", err, out)
		}
		if len(pids) == 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(pids) != 3 || pids[0] != pid {
		t.Fatalf("ps -f json: %v, want init %d and its two children", pids, pid)
	}
	table := e.must("ps", e.id)
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "PID") || !strings.Contains(table, "sleep 61") || !strings.Contains(table, "sleep 62") {
		t.Fatalf("ps table: %q", table)
	}
	// Extra arguments go to ps(1).
	out := e.must("ps", e.id, "-o", "pid,comm")
	lines = strings.Split(strings.TrimSpace(out), "\n")
	var got []int
	for _, l := range lines[1:] {
		p, _ := strconv.Atoi(strings.Fields(l)[0])
		got = append(got, p)
	}
	sort.Ints(got)
	if len(lines) != 4 || strings.Fields(lines[0])[0] != "PID" || fmt.Sprint(got) != fmt.Sprint(pids) {
		t.Fatalf("ps -o pid,comm: %q, want the pids %v", out, pids)
	}
	e.fails("couldn't find PID field", "ps", e.id, "-o", "comm")
	e.fails("invalid format option", "ps", "-f", "xml", e.id)
	e.must("delete", "--force", e.id)
	e.fails("does not exist", "ps", e.id)
	assertNoCgroup(t, e.id)
}

// events --stats prints one JSON in runc's shape; the stream reports an
// OOM kill as {"type":"oom"}.
func testEvents(t *testing.T) {
	e := newEnv(t)
	out := filepath.Join(t.TempDir(), "out")
	os.MkdirAll(out, 0o777)
	// Once /out/go exists, the container outgrows its limit over and over
	// (the OOM killer kills tail, the shell starts another): the events
	// stream sees one whenever it has registered.
	s := e.spec("sh", "-c", "while true; do [ -e /out/go ] && tail /dev/zero; sleep 0.05; done")
	limitsSpec(s)
	mem := int64(16 << 20)
	s.Linux.Resources.Memory.Limit = &mem
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/out", Type: "bind", Source: out, Options: []string{"bind"}})
	e.write(s)
	e.must("run", "-d", e.id)

	stats := e.must("events", "--stats", e.id)
	var ev struct {
		Type string
		ID   string
		Data map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(stats), &ev); err != nil || ev.Type != "stats" || ev.ID != e.id {
		t.Fatalf("events --stats: %v: %q", err, stats)
	}
	for _, k := range []string{"cpu", "cpuset", "memory", "pids", "blkio", "hugetlb"} {
		if _, ok := ev.Data[k]; !ok {
			t.Errorf("events --stats: no %q in data: %s", k, stats)
		}
	}
	var d struct {
		Memory struct{ Usage struct{ Limit, Usage uint64 } }
		Pids   struct{ Current, Limit uint64 }
		CPU    struct{ Usage struct{ Total uint64 } }
	}
	json.Unmarshal([]byte(stats), &struct{ Data any }{&d})
	if d.Memory.Usage.Limit != 16<<20 || d.Memory.Usage.Usage == 0 || d.Pids.Limit != 32 || d.Pids.Current == 0 || d.CPU.Usage.Total == 0 {
		t.Errorf("events --stats values: %+v (%s)", d, stats)
	}
	e.fails("duration interval must be greater than 0", "events", "--interval", "0s", e.id)

	// Stream: start watching, then let the container blow its limit.
	cmd := exec.Command(huskBin, "--root", e.root, "events", "--interval", "1h", e.id)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	os.WriteFile(filepath.Join(out, "go"), nil, 0o644)
	select {
	case l, ok := <-lines:
		if !ok || !strings.Contains(l, `"type":"oom"`) || !strings.Contains(l, e.id) {
			t.Fatalf("events stream: %q (open %v), want an oom event", l, ok)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("events: no oom event 20 s after the container outgrew its memory limit")
	}
	e.must("delete", "--force", e.id)
	assertNoCgroup(t, e.id)
	e.fails("does not exist", "events", "--stats", e.id)
}

func TestCgroupEvents(t *testing.T) { testEvents(t) }

// A controller the host lacks is an error naming the field only when the
// config asks for it, and no directory is made for it.
func TestCgroupMissingControllerIsAnError(t *testing.T) {
	if cgroup2Only() {
		t.Skip("SKIP: v1 controllers (net_cls, net_prio) are what this test checks; this is a cgroup v2 host")
	}
	classID := uint32(7)
	limit := uint64(2 << 20)
	cases := map[string]func(r *specs.LinuxResources){
		"network.classID": func(r *specs.LinuxResources) { r.Network = &specs.LinuxNetwork{ClassID: &classID} },
		"network.priorities": func(r *specs.LinuxResources) {
			r.Network = &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "lo", Priority: 1}}}
		},
		"hugepageLimits": func(r *specs.LinuxResources) {
			r.HugepageLimits = []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: limit}}
		},
		"rdma": func(r *specs.LinuxResources) { r.Rdma = map[string]specs.LinuxRdma{"mlx4_0": {}} },
	}
	ctrl := map[string]string{"network.classID": "net_cls", "network.priorities": "net_prio", "hugepageLimits": "hugetlb", "rdma": "rdma"}
	for field, set := range cases {
		if _, err := os.Stat("/sys/fs/cgroup/" + ctrl[field]); err == nil {
			t.Logf("host has %s: not checking %s", ctrl[field], field)
			continue
		}
		e := newEnv(t)
		s := e.spec("true")
		set(s.Linux.Resources)
		e.write(s)
		e.fails("linux.resources."+field+": cgroup controller "+ctrl[field]+" is not available", "run", e.id)
		e.assertGone(e.id, 0)
		assertNoCgroup(t, e.id)
		if _, err := os.Stat("/sys/fs/cgroup/" + ctrl[field]); err == nil {
			t.Errorf("a directory /sys/fs/cgroup/%s was created", ctrl[field])
		}
	}
	// Without those fields the same host runs containers, and still no
	// directory appears for the missing controllers.
	e := newEnv(t)
	e.write(e.spec("true"))
	e.must("run", e.id)
	for _, c := range []string{"hugetlb", "net_cls", "net_prio", "rdma", "perf_event"} {
		if _, err := os.Stat("/sys/fs/cgroup/" + c); err == nil {
			if st, _ := os.ReadFile("/proc/self/mountinfo"); !strings.Contains(string(st), "/sys/fs/cgroup/"+c+" ") {
				t.Errorf("/sys/fs/cgroup/%s exists but is no mount: a plain directory was made for a missing controller", c)
			}
		}
	}
}

// --systemd-cgroup where systemd does not run fails with one clear line
// and leaves nothing.
func TestCgroupSystemdWithoutSystemd(t *testing.T) {
	if fi, err := os.Stat("/run/systemd/system"); err == nil && fi.IsDir() {
		t.Skip("SKIP: systemd runs on this host; this test checks the error where it does not")
	}
	e := newEnv(t)
	e.write(e.spec("true"))
	e.fails("--systemd-cgroup: systemd is not running on this host", "--systemd-cgroup", "run", e.id)
	e.assertGone(e.id, 0)
	assertNoCgroup(t, e.id)
}

// cgroupsPath: absolute and nested (every directory husk made goes on
// delete), relative (under husk's own cgroup), and a systemd-style path
// without --systemd-cgroup is refused.
func TestCgroupPathSemantics(t *testing.T) {
	e := newEnv(t)
	top := "husk-it-abs-" + e.id
	s := e.spec("sleep", "60")
	s.Linux.CgroupsPath = "/" + top + "/nested/" + e.id
	limitsSpec(s)
	e.write(s)
	e.must("run", "-d", e.id)
	pid := e.state(e.id).Pid
	dir := hostCgroupDir(t, pid, "pids")
	if !strings.HasSuffix(dir, "/"+top+"/nested/"+e.id) {
		t.Errorf("absolute cgroupsPath: pids cgroup %s", dir)
	}
	if got := readTrim(t, fPids.hostPath(t, pid)); got != "32" {
		t.Errorf("pids.max under the absolute path: %q", got)
	}
	e.must("delete", "--force", e.id)
	assertNoCgroup(t, top)

	e2 := newEnv(t)
	s = e2.spec("sleep", "60")
	s.Linux.CgroupsPath = "rel-" + e2.id
	e2.write(s)
	e2.must("run", "-d", e2.id)
	pid = e2.state(e2.id).Pid
	own := hostCgroupDir(t, os.Getpid(), "memory")
	if got := hostCgroupDir(t, pid, "memory"); got != filepath.Join(own, "rel-"+e2.id) {
		t.Errorf("relative cgroupsPath: memory cgroup %s, want under husk's own %s", got, own)
	}
	e2.must("delete", "--force", e2.id)
	assertNoCgroup(t, "rel-"+e2.id)

	e3 := newEnv(t)
	s = e3.spec("true")
	s.Linux.CgroupsPath = "system.slice:husk:" + e3.id
	e3.write(s)
	e3.fails("linux.cgroupsPath", "run", e3.id)
	e3.assertGone(e3.id, 0)
}

// kill --all signals every process of the cgroup, also without a pid
// namespace of its own.
func TestCgroupKillAll(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sh", "-c", "sleep 71 & sleep 72 & wait")
	var nss []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != specs.PIDNamespace {
			nss = append(nss, ns)
		}
	}
	s.Linux.Namespaces = nss
	e.write(s)
	e.must("run", "-d", e.id)
	var pids []int
	for i := 0; i < 100 && len(pids) != 3; i++ {
		json.Unmarshal([]byte(e.must("ps", "-f", "json", e.id)), &pids)
		time.Sleep(20 * time.Millisecond)
	}
	if len(pids) != 3 {
		t.Fatalf("ps: %v", pids)
	}
	e.must("kill", "--all", e.id, "KILL")
	for _, p := range pids {
		for i := 0; i < 100 && pidAlive(p); i++ {
			time.Sleep(20 * time.Millisecond)
		}
		if pidAlive(p) {
			t.Errorf("pid %d survived kill --all", p)
		}
	}
	e.must("delete", e.id)
	assertNoCgroup(t, e.id)
}

// A create killed at any point leaves a container whose delete --force
// also removes its cgroup (recorded before the cgroup is created).
func TestCgroupKilledCreateLeavesNoCgroup(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sleep", "60")
	limitsSpec(s)
	e.write(s)
	for i, delay := range []time.Duration{2, 5, 8, 12, 18, 25, 40} {
		id := e.id + "-k" + strconv.Itoa(i)
		e.killedCreate(id, delay*time.Millisecond)
		if r := e.husk("delete", "--force", id); r.code != 0 {
			t.Fatalf("delay %v: delete --force: %v", delay, r)
		}
		e.assertGone(id, 0)
		assertNoCgroup(t, id)
	}
}

// memory.kernelTCP is still honoured on a v1 host (the library dropped
// it; runc 1.1 and the OCI validation suite expect it).
func TestCgroupV1KernelTCP(t *testing.T) {
	if cgroup2Only() {
		t.Skip("SKIP: kernelTCP is a cgroup v1 file; this host is v2 only")
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.kmem.tcp.limit_in_bytes"); err != nil {
		t.Skip("SKIP: this kernel has no memory.kmem.tcp.limit_in_bytes")
	}
	e := newEnv(t)
	s := e.spec("cat", "/sys/fs/cgroup/memory/memory.kmem.tcp.limit_in_bytes")
	tcp := int64(8 << 20)
	s.Linux.Resources.Memory = &specs.LinuxMemory{KernelTCP: &tcp}
	e.write(s)
	if out := strings.TrimSpace(e.must("run", e.id)); out != strconv.FormatInt(tcp, 10) {
		t.Fatalf("memory.kmem.tcp.limit_in_bytes inside: %q, want %d", out, tcp)
	}
	assertNoCgroup(t, e.id)
}

// A pids limit below the number of threads a Go runtime starts still lets
// the container start (the limit goes on when init is ready, as with
// runc), and then stops forks inside it.
func TestCgroupLowPidsLimit(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait")
	pids := int64(5)
	s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &pids}
	e.write(s)
	r := e.husk("run", e.id)
	if !strings.Contains(r.stderr, "can't fork") {
		t.Fatalf("run: %v; want the container to start and its forks to fail", r)
	}
	assertNoCgroup(t, e.id)
}

// On v1, device rules are applied in the config's order (the spec says
// so): devices.list shows the config's allow rules first, in order.
func TestCgroupV1DeviceRulesInOrder(t *testing.T) {
	if cgroup2Only() {
		t.Skip("SKIP: devices.list is a cgroup v1 file; on v2 the rules are an eBPF program (TestKernelCgroup2Devices)")
	}
	e := newEnv(t)
	s := e.spec("cat", "/sys/fs/cgroup/devices/devices.list")
	m1, n1, m2, n2, m3, n3 := int64(10), int64(229), int64(8), int64(20), int64(10), int64(200)
	s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: &m1, Minor: &n1, Access: "rwm"},
		{Allow: true, Type: "b", Major: &m2, Minor: &n2, Access: "rw"},
		{Allow: true, Type: "b", Major: &m3, Minor: &n3, Access: "r"}}
	e.write(s)
	lines := strings.Split(strings.TrimSpace(e.must("run", e.id)), "\n")
	want := []string{"c 10:229 rwm", "b 8:20 rw", "b 10:200 r"}
	if len(lines) < 3 || strings.Join(lines[:3], "|") != strings.Join(want, "|") {
		t.Fatalf("devices.list starts %q, want %q", lines, want)
	}
	assertNoCgroup(t, e.id)
}
