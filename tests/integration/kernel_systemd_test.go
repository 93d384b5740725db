package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The systemd cgroup driver (husk --systemd-cgroup) against a real
// systemd. The kernel lane's guest has no init system, so the test starts
// one: systemd (copied in by tests/kernel/run.sh) as PID 1 of new pid,
// mount and cgroup namespaces, with $container set so that it runs as it
// does in a container. Its cgroup namespace is rooted at a cgroup of its
// own (sdRoot), because systemd moves every process of its root cgroup
// into init.scope: in the guest's real root that would be the whole
// guest. husk then runs as on a host with systemd: in systemd's pid
// namespace (the PIDs it passes to StartTransientUnit are read in
// systemd's), its mount namespace (/run/systemd, with the private socket
// the library talks to, and /sys/fs/cgroup showing systemd's root) and
// its cgroup namespace, from a cgroup inside systemd's tree (sdCLI: with
// nsdelegate, systemd cannot move a process in from outside its
// namespace).

const (
	systemdBin = "/usr/lib/systemd/systemd"
	sdRoot     = "/sys/fs/cgroup/husk-systemd-lane"
	sdCLI      = sdRoot + "/husk-cli" // where husk commands start
)

// nsenterBin is util-linux nsenter (busybox's cannot enter a cgroup
// namespace); run.sh puts it in the payload.
func nsenterBin() string {
	if p := os.Getenv("HUSK_NSENTER"); p != "" {
		return p
	}
	return "/usr/bin/nsenter"
}

func systemdAvailable() bool {
	_, err1 := os.Stat(systemdBin)
	_, err2 := os.Stat(nsenterBin())
	return cgroup2Only() && err1 == nil && err2 == nil
}

type testSystemd struct {
	pid int    // systemd, in the test's pid namespace
	log string // its console output
}

// startSystemd boots systemd as described above and waits for its
// private bus socket; t's cleanup kills it and removes its cgroups.
func startSystemd(t *testing.T) *testSystemd {
	t.Helper()
	dir := t.TempDir()
	units := filepath.Join(dir, "units")
	os.MkdirAll(units, 0o755)
	// One target with no dependencies: systemd starts nothing else. The
	// slices (-.slice, system.slice) and init.scope are built in.
	os.WriteFile(filepath.Join(units, "husk-lane.target"), []byte("[Unit]\nDescription=husk kernel lane\nDefaultDependencies=no\n"), 0o644)
	// systemd enables in its root what its root's parent delegates.
	if err := os.WriteFile("/sys/fs/cgroup/cgroup.subtree_control", []byte("+cpu +memory +pids +io"), 0); err != nil {
		t.Fatalf("enable controllers for systemd: %v", err)
	}
	if err := os.Mkdir(sdRoot, 0o755); err != nil {
		t.Fatalf("systemd's cgroup: %v", err)
	}
	sd := &testSystemd{log: filepath.Join(dir, "systemd.log")}
	t.Cleanup(func() { sd.stop(t) })
	cgfd, err := syscall.Open(sdRoot, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(cgfd)
	logf, err := os.Create(sd.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	// PID 1 of the new namespaces, born in sdRoot (clone3 into the cgroup),
	// then in a cgroup namespace rooted there (unshare after the clone).
	script := `set -e
mount --make-rprivate /
mount -t proc proc /proc
umount /sys/fs/cgroup
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs -o mode=755 tmpfs /run
[ -s /etc/machine-id ] || echo 4b65726e656c4c616e6553797374656d > /etc/machine-id
[ -e /etc/os-release ] || printf 'ID=debian\nNAME="husk kernel lane"\n' > /etc/os-release
exec ` + systemdBin + ` --system --unit=husk-lane.target --log-target=console --log-level=info --show-status=no`
	// systemd as PID 1 logs to /dev/console: in the lane, console.log.
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = append(os.Environ(), "container=husk-kernel-lane", "SYSTEMD_UNIT_PATH="+units)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:   syscall.CLONE_NEWPID | syscall.CLONE_NEWNS,
		Unshareflags: syscall.CLONE_NEWCGROUP,
		UseCgroupFD:  true,
		CgroupFD:     cgfd,
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start systemd: %v", err)
	}
	sd.pid = cmd.Process.Pid
	go cmd.Wait() // systemd's exit shows as its missing socket; reap it
	sock := fmt.Sprintf("/proc/%d/root/run/systemd/private", sd.pid)
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i == 600 || !pidAlive(sd.pid) {
			out, _ := os.ReadFile(sd.log)
			t.Fatalf("systemd did not come up (no %s after %d ms): its output:\n%s", sock, i*50, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := os.Mkdir(sdCLI, 0o755); err != nil {
		t.Fatal(err)
	}
	// Ready for units once the manager answers.
	if out, err := sd.systemctl("show", "-p", "Version", "--value"); err != nil {
		t.Fatalf("systemctl: %v: %s", err, out)
	} else {
		t.Logf("systemd %s is running as pid %d (guest pid namespace)", strings.TrimSpace(out), sd.pid)
	}
	return sd
}

// stop kills systemd and everything in its tree, then removes the tree,
// leaves first.
func (sd *testSystemd) stop(t *testing.T) {
	if _, err := os.Stat(sdRoot); err != nil {
		return
	}
	os.WriteFile(sdRoot+"/cgroup.kill", []byte("1"), 0)
	var dirs []string
	filepath.WalkDir(sdRoot, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		// The killed processes leave their cgroup asynchronously.
		for i := 0; i < 200; i++ {
			if err := syscall.Rmdir(d); err == nil || err == syscall.ENOENT {
				break
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	if _, err := os.Stat(sdRoot); err == nil {
		t.Errorf("systemd's cgroup tree %s is left behind", sdRoot)
	}
	if t.Failed() {
		out, _ := os.ReadFile(sd.log)
		t.Logf("systemd's output (its log is on the console: console.log in the lane):\n%s", out)
	}
}

// enter is the command prefix that runs a program as on a host with this
// systemd: in sdCLI, then in systemd's namespaces, in dir.
func (sd *testSystemd) enter(dir string) []string {
	return []string{"/bin/sh", "-c", `echo 0 > "$0" && exec "$@"`, sdCLI + "/cgroup.procs",
		// the directory through systemd's root: a plain path would be
		// opened in our mount namespace, and unreachable (getcwd: ENOENT)
		// once nsenter is in systemd's
		nsenterBin(), "-t", strconv.Itoa(sd.pid), "-p", "-m", "-C", fmt.Sprintf("--wd=/proc/%d/root%s", sd.pid, dir)}
}

func (sd *testSystemd) systemctl(args ...string) (string, error) {
	argv := append(sd.enter("/"), append([]string{"/usr/bin/systemctl"}, args...)...)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	return string(out), err
}

// unitProps reads properties of a unit as a map.
func (sd *testSystemd) unitProps(t *testing.T, unit string, props ...string) map[string]string {
	t.Helper()
	out, err := sd.systemctl(append([]string{"show", unit}, "-p", strings.Join(props, ","))...)
	if err != nil {
		t.Fatalf("systemctl show %s: %v: %s", unit, err, out)
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			if m[k] != "" { // a list property (DeviceAllow) is one line per entry
				v = m[k] + ", " + v
			}
			m[k] = v
		}
	}
	return m
}

// sdEnv is a test env whose husk calls (cleanup included) run beside sd.
func sdEnv(t *testing.T, sd *testSystemd) *env {
	e := newEnv(t)
	e.wrap = sd.enter(e.bundle)
	return e
}

// scope is the unit and the host-side cgroup directory of container id
// with cgroupsPath system.slice:husk:id.
func scope(id string) (unit, dir string) {
	unit = "husk-" + id + ".scope"
	return unit, sdRoot + "/system.slice/" + unit
}

// assertScopeGone: no unit and no cgroup directory left for id.
func (sd *testSystemd) assertScopeGone(t *testing.T, id string) {
	t.Helper()
	unit, dir := scope(id)
	if p := sd.unitProps(t, unit, "LoadState", "ActiveState"); p["ActiveState"] != "inactive" || p["LoadState"] != "not-found" {
		t.Errorf("unit %s after delete: %v, want not-found and inactive", unit, p)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("scope cgroup %s is left behind (err %v)", dir, err)
	}
	assertNoCgroup(t, id)
}

func sdSpec(e *env, args ...string) *specs.Spec {
	s := e.spec(args...)
	s.Linux.CgroupsPath = "system.slice:husk:" + e.id
	limitsSpec(s)
	setCgroupNS(s, true)
	return s
}

func TestKernelSystemd(t *testing.T) {
	needKernel(t, systemdAvailable(), "systemd ("+systemdBin+"), util-linux nsenter and a cgroup v2 host for --systemd-cgroup")
	sd := startSystemd(t)
	t.Run("Limits", func(t *testing.T) { testSystemdLimits(t, sd) })
	t.Run("Lifecycle", func(t *testing.T) { testSystemdLifecycle(t, sd) })
	t.Run("Devices", func(t *testing.T) { testSystemdDevices(t, sd) })
	t.Run("BadPath", func(t *testing.T) { testSystemdBadPath(t, sd) })
	t.Run("RuncReference", func(t *testing.T) { testSystemdRunc(t, sd) })
}

// runc --systemd-cgroup in the same setup shows the same limits: when a
// husk subtest fails and this passes, the bug is husk's, not the
// environment's.
func testSystemdRunc(t *testing.T, sd *testSystemd) {
	e := newEnv(t)
	s := sdSpec(e, "sh", "-c", "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max /proc/self/cgroup")
	s.Linux.CgroupsPath = "system.slice:runc:" + e.id
	e.write(s)
	argv := append(sd.enter(e.bundle), "/usr/sbin/runc", "--root", e.root+"-runc", "--systemd-cgroup", "run", e.id)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if want := "67108864\n32\n20000 100000\n0::/"; err != nil || strings.TrimSpace(string(out)) != want {
		t.Fatalf("runc --systemd-cgroup run: %v: %q, want %q", err, out, want)
	}
	os.RemoveAll(e.root + "-runc")
	if p := sd.unitProps(t, "runc-"+e.id+".scope", "LoadState"); p["LoadState"] != "not-found" {
		t.Errorf("runc's scope after run: %v", p)
	}
	assertNoCgroup(t, e.id)
}

// Limits from inside the container, with a cgroup namespace (its scope is
// its /) and without (its /sys/fs/cgroup is a bind of its scope, found in
// systemd's cgroup namespace, which husk shares).
func testSystemdLimits(t *testing.T, sd *testSystemd) {
	for _, withNS := range []bool{true, false} {
		e := sdEnv(t, sd)
		s := sdSpec(e, "sh", "-c", "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max /proc/self/cgroup")
		setCgroupNS(s, withNS)
		e.write(s)
		out := e.must("--systemd-cgroup", "run", e.id)
		want := "67108864\n32\n20000 100000\n0::/"
		if !withNS {
			want += "system.slice/husk-" + e.id + ".scope"
		}
		if strings.TrimSpace(out) != want {
			t.Errorf("cgroupns=%v: limits inside: %q, want %q", withNS, out, want)
		}
		e.assertGone(e.id, 0)
		sd.assertScopeGone(t, e.id)
	}
}

// create, start, the scope with its limits from the host and from
// systemd, update through systemd, pause and resume, delete: no unit, no
// cgroup left.
func testSystemdLifecycle(t *testing.T, sd *testSystemd) {
	e := sdEnv(t, sd)
	e.write(sdSpec(e, "sleep", "600"))
	e.must("--systemd-cgroup", "create", e.id)
	unit, dir := scope(e.id)
	p := sd.unitProps(t, unit, "ActiveState", "ControlGroup", "Slice", "Delegate", "MemoryMax", "TasksMax", "CPUQuotaPerSecUSec")
	wantP := map[string]string{"ActiveState": "active", "ControlGroup": "/system.slice/" + unit, "Slice": "system.slice",
		"Delegate": "yes", "MemoryMax": "67108864", "TasksMax": "32", "CPUQuotaPerSecUSec": "200ms"}
	for k, v := range wantP {
		if p[k] != v {
			t.Errorf("systemctl show %s: %s=%q, want %q", unit, k, p[k], v)
		}
	}
	files := map[string]string{"memory.max": "67108864", "pids.max": "32", "cpu.max": "20000 100000"}
	check := func(when string) {
		t.Helper()
		for f, v := range files {
			if got := readTrim(t, filepath.Join(dir, f)); got != v {
				t.Errorf("%s: host %s/%s = %q, want %q", when, dir, f, got, v)
			}
		}
	}
	check("created")
	// The container's init (created, waiting for start) is the one
	// process of the scope.
	if procs := strings.Fields(readTrim(t, dir+"/cgroup.procs")); len(procs) != 1 {
		t.Errorf("scope processes %v, want the container's init alone", procs)
	}
	e.must("start", e.id)
	if st := e.state(e.id).Status; st != "running" {
		t.Fatalf("status after start: %q", st)
	}

	e.must("update", "--memory", "32m", "--pids-limit", "50", "--cpu-quota", "30000", e.id)
	files = map[string]string{"memory.max": "33554432", "pids.max": "50", "cpu.max": "30000 100000"}
	check("updated")
	p = sd.unitProps(t, unit, "MemoryMax", "TasksMax", "CPUQuotaPerSecUSec")
	if p["MemoryMax"] != "33554432" || p["TasksMax"] != "50" || p["CPUQuotaPerSecUSec"] != "300ms" {
		t.Errorf("systemd's view after update: %v", p)
	}

	e.must("pause", e.id)
	if st := e.state(e.id).Status; st != "paused" {
		t.Errorf("status after pause: %q", st)
	}
	if ev := readTrim(t, dir+"/cgroup.events"); !strings.Contains(ev, "frozen 1") {
		t.Errorf("cgroup.events after pause: %q", ev)
	}
	e.fails("not stopped: paused", "delete", e.id)
	e.must("resume", e.id)
	if st := e.state(e.id).Status; st != "running" {
		t.Errorf("status after resume: %q", st)
	}
	if ev := readTrim(t, dir+"/cgroup.events"); !strings.Contains(ev, "frozen 0") {
		t.Errorf("cgroup.events after resume: %q", ev)
	}

	e.must("kill", e.id, "KILL")
	e.waitStatus(e.id, "stopped")
	e.must("delete", e.id)
	e.assertGone(e.id, 0)
	sd.assertScopeGone(t, e.id)

	// A created container that never started: delete refuses it (not
	// stopped) and leaves its scope, delete --force removes both.
	e3 := sdEnv(t, sd)
	e3.write(sdSpec(e3, "sleep", "600"))
	e3.must("--systemd-cgroup", "create", e3.id)
	e3.fails("not stopped: created", "delete", e3.id)
	if p := sd.unitProps(t, "husk-"+e3.id+".scope", "ActiveState"); p["ActiveState"] != "active" {
		t.Errorf("created, after a refused delete: scope %v", p)
	}
	e3.must("delete", "--force", e3.id)
	e3.assertGone(e3.id, 0)
	sd.assertScopeGone(t, e3.id)

	// run -d and delete --force of a running container.
	e2 := sdEnv(t, sd)
	e2.write(sdSpec(e2, "sleep", "600"))
	e2.must("--systemd-cgroup", "run", "-d", e2.id)
	if p := sd.unitProps(t, "husk-"+e2.id+".scope", "ActiveState"); p["ActiveState"] != "active" {
		t.Errorf("run -d: scope %v", p)
	}
	e2.must("delete", "--force", e2.id)
	e2.assertGone(e2.id, 0)
	sd.assertScopeGone(t, e2.id)
}

// Device rules through systemd (DevicePolicy/DeviceAllow) and husk's own
// eBPF filter: deny-all blocks /dev/full (EPERM instead of ENOSPC), an
// allow rule opens it again, and the default allow-list keeps /dev/null.
func testSystemdDevices(t *testing.T, sd *testSystemd) {
	for _, allow := range []bool{false, true} {
		e := sdEnv(t, sd)
		runDeviceRules(t, e, func(args ...string) *specs.Spec { return sdSpec(e, args...) }, allow, "--systemd-cgroup")
		e.assertGone(e.id, 0)
		sd.assertScopeGone(t, e.id)
	}
	// systemd holds the policy too.
	e := sdEnv(t, sd)
	s := sdSpec(e, "sleep", "600")
	s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	e.write(s)
	e.must("--systemd-cgroup", "run", "-d", e.id)
	unit, _ := scope(e.id)
	if p := sd.unitProps(t, unit, "DevicePolicy", "DeviceAllow"); p["DevicePolicy"] != "strict" || !strings.Contains(p["DeviceAllow"], "/dev/char/1:3 rwm") {
		t.Errorf("systemctl show %s: %v, want DevicePolicy=strict and /dev/null (1:3) allowed", unit, p)
	}
	e.must("delete", "--force", e.id)
	sd.assertScopeGone(t, e.id)
}

// A cgroupsPath that is not slice:prefix:name is one line naming the
// field, and leaves no state, unit or cgroup.
func testSystemdBadPath(t *testing.T, sd *testSystemd) {
	for _, path := range []string{"nocolons", "a:b", "system.slice:husk:x:y"} {
		e := sdEnv(t, sd)
		s := e.spec("true")
		s.Linux.CgroupsPath = path
		e.write(s)
		e.fails("linux.cgroupsPath", "--systemd-cgroup", "run", e.id)
		e.assertGone(e.id, 0)
		sd.assertScopeGone(t, e.id)
	}
}
