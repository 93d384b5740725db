package integration

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestVersion(t *testing.T) {
	e := newEnv(t)
	out := e.must("--version")
	for _, want := range []string{"husk version ", "commit: ", "spec: 1.", "go: go1."} {
		if !strings.Contains(out, want) {
			t.Errorf("--version output %q lacks %q", out, want)
		}
	}
}

func TestRunPrintsHostnameAndPid1(t *testing.T) {
	e := newEnv(t)
	e.write(e.spec("sh", "-c", "echo $(hostname) $$; echo err >&2"))
	r := e.husk("run", e.id)
	if r.code != 0 || r.stdout != "husk 1\n" || r.stderr != "err\n" {
		t.Fatalf("run: %v, want stdout \"husk 1\\n\" and stderr \"err\\n\"", r)
	}
	e.assertGone(e.id, 0) // run without --keep deletes the container
}

func TestRunExitStatus(t *testing.T) {
	e := newEnv(t)
	e.write(e.spec("sh", "-c", "exit 3"))
	if r := e.husk("run", e.id); r.code != 3 {
		t.Fatalf("run: %v, want exit 3", r)
	}
	e.assertGone(e.id, 0)
}

func TestRunKilledExitsWith128PlusSignal(t *testing.T) {
	e := newEnv(t)
	e.write(e.spec("sleep", "60"))
	done := make(chan result, 1)
	go func() { done <- e.husk("run", e.id) }()
	s := e.waitStatus(e.id, "running")
	e.must("kill", e.id, "KILL")
	r := <-done
	if r.code != 137 {
		t.Fatalf("run of a SIGKILLed container: %v, want exit 137", r)
	}
	e.assertGone(e.id, s.Pid)
}

func TestRunForwardsSignals(t *testing.T) {
	e := newEnv(t)
	// pid 1 only gets signals it handles: the trap makes TERM count.
	e.write(e.spec("sh", "-c", "trap 'echo got TERM; exit 42' TERM; while true; do sleep 0.05; done"))
	cmd := exec.Command(huskBin, "--root", e.root, "run", e.id)
	cmd.Dir = e.bundle
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(e.id, "running")
	time.Sleep(100 * time.Millisecond) // let sh install the trap
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 42 || out.String() != "got TERM\n" {
		t.Fatalf("run after SIGTERM to husk: err %v, stdout %q; want exit 42 and \"got TERM\"", err, out.String())
	}
}

func TestLifecycleCreateStartStateDelete(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sh", "-c", "read x; echo started-$x")
	s.Annotations = map[string]string{"org.example/key": "value"}
	e.write(s)
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	// stdio is passed through: the container reads create's stdin.
	r := e.huskCmd(func(c *exec.Cmd) { c.Stdin = strings.NewReader("now\n") }, "create", "--pid-file", pidFile, e.id)
	if r.code != 0 {
		t.Fatalf("create: %v", r)
	}
	st := e.state(e.id)
	if st.Status != "created" || st.Pid <= 0 || st.ID != e.id || st.Bundle != e.bundle ||
		st.Rootfs != s.Root.Path || st.OCIVersion != s.Version || st.Owner != "root" ||
		st.Annotations["org.example/key"] != "value" || st.Created.Before(start.Add(-time.Second)) {
		t.Fatalf("state after create: %+v", st)
	}
	if data, _ := os.ReadFile(pidFile); string(data) != strconv.Itoa(st.Pid) {
		t.Fatalf("pid file %q, state pid %d", data, st.Pid)
	}
	// In the created state the user's program has not run yet.
	if cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/cmdline"); !strings.HasPrefix(string(cmdline), "husk\x00init") {
		t.Fatalf("created container runs %q, want husk init", cmdline)
	}
	e.must("start", e.id)
	e.waitStatus(e.id, "stopped")
	if st := e.state(e.id); st.Pid != 0 {
		t.Fatalf("stopped container shows pid %d, want 0", st.Pid)
	}
	e.fails("cannot start a container that has stopped", "start", e.id)
	e.must("delete", e.id)
	e.fails("does not exist", "state", e.id)
	e.assertGone(e.id, st.Pid)
}

func TestStartTwiceAndDeleteRunning(t *testing.T) {
	e := newEnv(t)
	e.write(e.spec("sleep", "60"))
	e.must("create", e.id)
	e.must("start", e.id)
	st := e.waitStatus(e.id, "running")
	e.fails("cannot start an already running container", "start", e.id)
	e.fails("cannot delete container "+e.id+" that is not stopped: running", "delete", e.id)
	e.must("delete", "--force", e.id)
	e.assertGone(e.id, st.Pid)
	e.fails("does not exist", "delete", e.id)
	e.must("delete", "--force", e.id) // force on a missing container is not an error
}

// A created container is not stopped (runtime spec, "delete"): delete
// refuses it and leaves it as it was; --force kills its init and removes it.
func TestDeleteCreatedNeedsForce(t *testing.T) {
	e := newEnv(t)
	e.write(e.spec("true"))
	e.must("create", e.id)
	st := e.state(e.id)
	e.fails("cannot delete container "+e.id+" that is not stopped: created", "delete", e.id)
	if st2 := e.state(e.id); st2.Status != "created" || st2.Pid != st.Pid || syscall.Kill(st.Pid, 0) != nil {
		t.Fatalf("delete without --force changed the created container: %+v -> %+v", st, st2)
	}
	e.must("delete", "--force", e.id)
	e.assertGone(e.id, st.Pid)
}

func TestList(t *testing.T) {
	e := newEnv(t)
	e.write(e.spec("sleep", "60"))
	ids := []string{e.id + "-b", e.id + "-a"}
	for _, id := range ids {
		e.must("create", id)
	}
	e.must("start", ids[0])
	e.waitStatus(ids[0], "running")

	q := e.must("list", "-q")
	if q != ids[1]+"\n"+ids[0]+"\n" {
		t.Fatalf("list -q: %q, want both ids sorted", q)
	}
	table := strings.Split(strings.TrimSpace(e.must("list")), "\n")
	if len(table) != 3 || !strings.HasPrefix(table[0], "ID") || !strings.Contains(table[0], "PID") ||
		!strings.Contains(table[0], "STATUS") || !strings.Contains(table[0], "BUNDLE") ||
		!strings.Contains(table[0], "CREATED") || !strings.Contains(table[0], "OWNER") {
		t.Fatalf("list table: %q", table)
	}
	if f := strings.Fields(table[1]); f[0] != ids[1] || f[2] != "created" || f[3] != e.bundle || f[5] != "root" {
		t.Fatalf("list row %q", table[1])
	}
	if f := strings.Fields(table[2]); f[0] != ids[0] || f[2] != "running" {
		t.Fatalf("list row %q", table[2])
	}
	var js []stateJSON
	if err := json.Unmarshal([]byte(e.must("list", "--format", "json")), &js); err != nil || len(js) != 2 {
		t.Fatalf("list --format json: %v %v", err, js)
	}
	if js[0].ID != ids[1] || js[0].Status != "created" || js[1].Status != "running" || js[1].Pid <= 0 {
		t.Fatalf("list json: %+v", js)
	}
	e.fails(`invalid value "yaml"`, "list", "--format", "yaml")
	// An empty root lists nothing.
	other := newEnv(t)
	if out := other.must("list", "-q"); out != "" {
		t.Fatalf("list of an empty root: %q", out)
	}
}

func TestKillSignals(t *testing.T) {
	e := newEnv(t)
	// The container reports each signal it receives on stdout.
	e.write(e.spec("sh", "-c", `for s in USR1 USR2 HUP INT; do trap "echo $s" $s; done; trap 'echo TERM; exit 0' TERM; echo ready; while true; do sleep 0.05; done`))
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	r := e.huskCmd(func(c *exec.Cmd) { c.Stdout = out }, "run", "-d", e.id)
	if r.code != 0 {
		t.Fatalf("run -d: %v", r)
	}
	waitFile(t, out.Name(), "ready\n")
	e.must("kill", e.id, "USR1")
	waitFile(t, out.Name(), "ready\nUSR1\n")
	e.must("kill", e.id, "SIGUSR2")
	waitFile(t, out.Name(), "ready\nUSR1\nUSR2\n")
	e.must("kill", e.id, "1")
	waitFile(t, out.Name(), "ready\nUSR1\nUSR2\nHUP\n")
	e.must("kill", e.id, "sigint")
	waitFile(t, out.Name(), "ready\nUSR1\nUSR2\nHUP\nINT\n")
	e.fails(`unknown signal "NOPE"`, "kill", e.id, "NOPE")
	e.must("kill", e.id) // SIGTERM by default
	waitFile(t, out.Name(), "ready\nUSR1\nUSR2\nHUP\nINT\nTERM\n")
	e.waitStatus(e.id, "stopped")
	e.fails("container not running", "kill", e.id, "KILL")
	e.fails("does not exist", "kill", "no-such-"+e.id)
	e.must("delete", e.id)
}

func TestKillAll(t *testing.T) {
	e := newEnv(t)
	// pid 1 handles TERM (and survives it); its children do not.
	e.write(e.spec("sh", "-c", "trap 'echo got-term' TERM; sleep 60 & sleep 61 & while true; do wait; done"))
	out, _ := os.Create(filepath.Join(t.TempDir(), "out"))
	if r := e.huskCmd(func(c *exec.Cmd) { c.Stdout = out }, "run", "-d", e.id); r.code != 0 {
		t.Fatalf("run -d: %v", r)
	}
	st := e.waitStatus(e.id, "running")
	sleepers := func() int {
		n := 0
		for _, p := range pidsInPidNS(st.Pid) {
			if cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline"); strings.HasPrefix(string(cmd), "sleep\x006") {
				n++
			}
		}
		return n
	}
	for i := 0; i < 100 && sleepers() < 2; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if n := sleepers(); n != 2 {
		t.Fatalf("%d sleepers in the container, want 2", n)
	}
	e.must("kill", "--all", e.id, "TERM")
	waitFile(t, out.Name(), "got-term\n")
	for i := 0; i < 100 && sleepers() > 0; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if n := sleepers(); n != 0 {
		t.Fatalf("kill --all TERM left %d processes alive", n)
	}
	if s := e.state(e.id); s.Status != "running" {
		t.Fatalf("init should survive its handled TERM: %+v", s)
	}
	e.must("kill", "-a", e.id, "KILL")
	e.waitStatus(e.id, "stopped")
	e.must("delete", e.id)
	e.assertGone(e.id, st.Pid)
}

// pidsInPidNS lists host pids sharing pid's pid namespace.
func pidsInPidNS(pid int) []int {
	target, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/pid")
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, d := range entries {
		p, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if ns, _ := os.Readlink("/proc/" + d.Name() + "/ns/pid"); ns == target {
			out = append(out, p)
		}
	}
	return out
}

// waitFile polls until the file's content is want (5 s at most).
func waitFile(t *testing.T, path, want string) {
	t.Helper()
	var data []byte
	for i := 0; i < 100; i++ {
		data, _ = os.ReadFile(path)
		if string(data) == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: %q, want %q", path, data, want)
}

func TestConcurrentCommandsSerialise(t *testing.T) {
	e := newEnv(t)
	e.write(e.spec("sleep", "60"))
	for round := 0; round < 5; round++ {
		id := e.id + "-" + strconv.Itoa(round)
		e.must("create", id)
		// Two starts at once: exactly one wins, the other sees it running.
		var wg sync.WaitGroup
		results := make([]result, 2)
		for i := range results {
			wg.Add(1)
			go func() { defer wg.Done(); results[i] = e.husk("start", id) }()
		}
		wg.Wait()
		ok := 0
		for _, r := range results {
			if r.code == 0 {
				ok++
			} else if !strings.Contains(r.stderr, "already running") {
				t.Fatalf("concurrent start failed oddly: %v", r)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d concurrent starts succeeded, want exactly 1: %v", round, ok, results)
		}
		// Two force-deletes at once: both succeed, nothing remains.
		st := e.state(id)
		for i := range results {
			wg.Add(1)
			go func() { defer wg.Done(); results[i] = e.husk("delete", "--force", id) }()
		}
		wg.Wait()
		for _, r := range results {
			if r.code != 0 {
				t.Fatalf("concurrent delete --force: %v", r)
			}
		}
		e.assertGone(id, st.Pid)
	}
	// Two creates of one id at once: one wins, one is told the id exists.
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i := range results {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = e.husk("create", e.id) }()
	}
	wg.Wait()
	if (results[0].code == 0) == (results[1].code == 0) {
		t.Fatalf("concurrent creates: %v / %v, want exactly one to succeed", results[0], results[1])
	}
	for _, r := range results {
		if r.code != 0 && !strings.Contains(r.stderr, "already exists") {
			t.Fatalf("losing create: %v", r)
		}
	}
	e.must("delete", "--force", e.id)
}

// A create killed at any point must leave a container that delete
// --force removes completely (runc cannot: opencontainers/runc#4534).
func TestKilledCreateIsRemovedByForceDelete(t *testing.T) {
	e := newEnv(t)
	e.write(e.spec("sleep", "60"))
	for i, delay := range []time.Duration{0, 1, 2, 3, 5, 8, 12, 18, 25, 40, 60} {
		id := e.id + "-" + strconv.Itoa(i)
		e.killedCreate(id, delay*time.Millisecond)
		pid := 0
		if data, err := os.ReadFile(filepath.Join(e.root, id, "state.json")); err == nil {
			var st struct{ Pid int }
			json.Unmarshal(data, &st)
			pid = st.Pid
		}
		if r := e.husk("delete", "--force", id); r.code != 0 {
			t.Fatalf("delay %v: delete --force after killed create: %v", delay, r)
		}
		e.assertGone(id, pid)
		// No init of this test may survive: ours hold the exec fifo
		// under e.root from their first instruction on.
		for _, n := range initsUnder(e.root) {
			for j := 0; j < 100 && pidAlive(n); j++ {
				time.Sleep(20 * time.Millisecond)
			}
			if pidAlive(n) {
				t.Fatalf("delay %v: husk init %d survived the killed create", delay, n)
			}
		}
	}
}

// killedCreate starts `husk create id` and SIGKILLs it after delay.
func (e *env) killedCreate(id string, delay time.Duration) {
	e.t.Helper()
	cmd := e.huskCommand(context.Background(), "create", id)
	cmd.Dir = e.bundle
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	time.Sleep(delay)
	cmd.Process.Kill()
	cmd.Wait()
}

// initsUnder lists the husk init processes holding a file under root.
func initsUnder(root string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, d := range entries {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if cmd, _ := os.ReadFile("/proc/" + d.Name() + "/cmdline"); string(cmd) != "husk\x00init\x00" {
			continue
		}
		fds, _ := os.ReadDir("/proc/" + d.Name() + "/fd")
		for _, fd := range fds {
			if l, _ := os.Readlink("/proc/" + d.Name() + "/fd/" + fd.Name()); strings.HasPrefix(l, root) {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}
