package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"golang.org/x/sys/unix"
)

// criuWorks is what `husk features` must agree with: criu is installed
// and its own kernel check passes. On the development machine (kernel
// 6.18, criu 3.17) it fails; in the kernel lane it passes.
func criuWorks() bool {
	return exec.Command("criu", "check").Run() == nil
}

// counterArgs counts in the container's own /tmp (a tmpfs, dumped with the
// container) and records once, at start, a token that a restore must keep
// (a restarted container would write a new one). stdio is the container's
// /dev/null: the test's files are the host's, which CRIU cannot dump.
// The count is renamed into place: a dump taken between a truncating
// write's open and its write would otherwise restore an empty file.
var counterArgs = []string{"sh", "-c", `exec </dev/null >/dev/null 2>&1; echo $$-$RANDOM-$RANDOM > /tmp/boot; i=0; while true; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.1; done`}

// A bind mount (/data, from a host directory with a file "id" holding
// content) is an external mount to CRIU: restore maps it to the source
// config.json names then.
func (e *env) counterSpec() { e.counterSpecData("first", nil) }

func (e *env) counterSpecData(content string, edit func(*specs.Spec)) {
	s := e.spec(counterArgs...)
	data := e.t.TempDir()
	os.Chmod(data, 0o755)
	if err := os.WriteFile(filepath.Join(data, "id"), []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}},
		specs.Mount{Destination: "/data", Type: "bind", Source: data, Options: []string{"rbind", "ro"}})
	if edit != nil {
		edit(s)
	}
	e.write(s)
}

// count reads the container's counter (0 until the first write). An exec
// that fails or a count that is not a number fails the test: read as 0,
// it would hide a broken exec or a restore that lost the file.
func (e *env) count(id string) int {
	e.t.Helper()
	r := e.husk("exec", id, "sh", "-c", "cat /tmp/count 2>/dev/null || echo 0")
	n, err := strconv.Atoi(strings.TrimSpace(r.stdout))
	if r.code != 0 || err != nil {
		e.t.Fatalf("container %s: reading its counter: %v", id, r)
	}
	return n
}

// waitCount waits until the counter reaches at least n.
func (e *env) waitCount(id string, n int) int {
	e.t.Helper()
	return waitAtLeast(e.t, "container "+id+": counter", n, 600, 50*time.Millisecond, func() int { return e.count(id) })
}

// waitAtLeast polls read (tries times, every interval) until it returns
// at least n, and returns that value; the test fails if it never does.
func waitAtLeast(t *testing.T, what string, n, tries int, every time.Duration, read func() int) int {
	t.Helper()
	var c int
	for i := 0; i < tries; i++ {
		if c = read(); c >= n {
			return c
		}
		time.Sleep(every)
	}
	t.Fatalf("%s at %d, want >= %d", what, c, n)
	return c
}

// runCounter runs the counting container detached and returns its boot
// token and a count it has reached.
func (e *env) runCounter() (boot string, count int) {
	e.t.Helper()
	e.counterSpec()
	e.must("run", "-d", e.id)
	return e.boot(e.id), e.waitCount(e.id, 3)
}

// boot reads the container's boot token, waiting (up to 5 s) for the
// first write: `run -d` returns once the shell is started, not once it
// has written the token.
func (e *env) boot(id string) string {
	e.t.Helper()
	return strings.TrimSpace(e.must("exec", id, "sh", "-c",
		"for i in $(seq 100); do [ -s /tmp/boot ] && exec cat /tmp/boot; sleep 0.05; done; echo no /tmp/boot >&2; exit 1"))
}

// sameBoot fails the test unless container id still holds boot, the
// token its process wrote once at start: a restore that restarted the
// container instead would show a new one.
func (e *env) sameBoot(id, boot string) {
	e.t.Helper()
	if got := e.boot(id); got != boot {
		e.t.Fatalf("restored container restarted: boot token %q, was %q", got, boot)
	}
}

// checkpointAdvertised is what `husk features` says about checkpointing.
func (e *env) checkpointAdvertised() bool {
	e.t.Helper()
	var f features.Features
	if err := json.Unmarshal([]byte(e.must("features")), &f); err != nil {
		e.t.Fatal(err)
	}
	return f.Annotations["org.opencontainers.runc.checkpoint.enabled"] == "true"
}

// Errors husk finds itself, before or without CRIU: one line, the
// container untouched, and a failed restore leaves nothing.
func TestCheckpointBadInput(t *testing.T) {
	e := newEnv(t)
	e.counterSpec()
	e.must("run", "-d", e.id)
	pid := e.state(e.id).Pid
	img := filepath.Join(t.TempDir(), "img")

	e.fails("container does not exist", "checkpoint", "--image-path", img, "nosuch")
	e.fails("criu not found (--criu /nonexistent/criu)", "--criu", "/nonexistent/criu", "checkpoint", "--image-path", img, e.id)
	e.fails("--parent-path: must be relative", "checkpoint", "--image-path", img, "--parent-path", "/abs", e.id)
	e.fails("--manage-cgroups-mode: invalid value", "checkpoint", "--image-path", img, "--manage-cgroups-mode", "bad", e.id)
	e.fails(`--empty-ns: unsupported namespace "pid"`, "checkpoint", "--image-path", img, "--empty-ns", "pid", e.id)
	e.fails(`--page-server "nope": want ADDRESS:PORT`, "checkpoint", "--image-path", img, "--page-server", "nope", e.id)
	// A read-only image path fails before CRIU runs (root ignores modes:
	// only a read-only mount is unwritable for it).
	ro := t.TempDir()
	if err := unix.Mount("tmpfs", ro, "tmpfs", unix.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(ro, unix.MNT_DETACH)
	e.fails("image path "+ro+": not writable: read-only file system", "checkpoint", "--image-path", ro, e.id)
	if st := e.state(e.id); st.Status != "running" || st.Pid != pid {
		t.Fatalf("after failed checkpoints: %+v, want the same container running", st)
	}
	e.must("kill", e.id, "KILL")
	e.waitStatus(e.id, "stopped")
	e.fails("is not running", "checkpoint", "--image-path", img, e.id)
	e.must("delete", e.id)

	// restore: no checkpoint in the image path, no criu: nothing created.
	empty := t.TempDir()
	e.fails("image path "+empty+": no checkpoint there", "restore", "-d", "--image-path", empty, e.id)
	os.WriteFile(filepath.Join(empty, "inventory.img"), nil, 0o600)
	e.fails("criu not found", "--criu", "/nonexistent/criu", "restore", "-d", "--image-path", empty, e.id)
	e.assertGone(e.id, pid)
	assertNoCgroup(t, e.id)
}

// Where CRIU cannot work (this machine: criu 3.17 on kernel 6.18), the
// error is CRIU's, one line, says "criu failed" (the engine smokes skip on
// it), the container keeps running, `features` does not claim
// checkpointing, and a failed restore leaves no state entry, cgroup, mount
// or process. The kernel lane, where CRIU works, tests the success path.
func TestCheckpointWithBrokenCriu(t *testing.T) {
	if criuWorks() {
		t.Skip("SKIP: criu works on this host; TestKernelCheckpoint* test checkpoint/restore itself")
	}
	e := newEnv(t)
	if e.checkpointAdvertised() {
		t.Fatal("features: checkpoint advertised, but `criu check` fails on this host")
	}
	e.counterSpec()
	e.must("run", "-d", e.id)
	pid := e.state(e.id).Pid
	c := e.waitCount(e.id, 1)
	img := filepath.Join(t.TempDir(), "img")
	for _, args := range [][]string{{}, {"--pre-dump"}, {"--leave-running"}} {
		r := e.fails("criu failed: ", append(append([]string{"checkpoint", "--image-path", img}, args...), e.id)...)
		if !strings.Contains(r.stderr, "(log "+img+"/dump.log)") {
			t.Errorf("checkpoint %v: error does not name CRIU's log: %q", args, r.stderr)
		}
	}
	if st := e.state(e.id); st.Status != "running" || st.Pid != pid {
		t.Fatalf("after failed checkpoint: %+v, want the same container running", st)
	}
	e.waitCount(e.id, c+1) // still counting

	// A restore that gets as far as CRIU (an image path with an
	// inventory) fails there and undoes its container entry and cgroup.
	os.WriteFile(filepath.Join(img, "inventory.img"), nil, 0o600)
	id := e.id + "-r"
	e.fails("criu failed: restore", "restore", "-d", "--image-path", img, id)
	e.assertGone(id, 0)
	assertNoCgroup(t, id)
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), "husk-criu-root-") {
		t.Errorf("failed restore left its rootfs bind mount")
	}
	left, _ := filepath.Glob(filepath.Join(os.TempDir(), "husk-criu-root-*"))
	if len(left) > 0 {
		t.Errorf("failed restore left %v", left)
	}
}

// In the kernel lane: a counting container is checkpointed (it is gone
// afterwards, as with runc), restored under the same id, and goes on
// counting from where it stopped with its /tmp and its process (the boot
// token written once at start is the same).
func TestKernelCheckpointRestore(t *testing.T) {
	needKernel(t, criuWorks(), "a working CRIU (`criu check`)")
	e := newEnv(t)
	if !e.checkpointAdvertised() {
		t.Fatal("features: checkpoint not advertised although criu works")
	}
	e.counterSpec()
	e.must("run", "-d", e.id)
	boot := e.boot(e.id)
	c := e.waitCount(e.id, 5)
	img := filepath.Join(t.TempDir(), "img")
	e.must("checkpoint", "--image-path", img, e.id)
	e.assertGone(e.id, 0)
	assertNoCgroup(t, e.id)

	e.must("restore", "-d", "--image-path", img, e.id)
	if st := e.state(e.id); st.Status != "running" {
		t.Fatalf("restored container: %+v", st)
	}
	e.sameBoot(e.id, boot)
	if got := e.count(e.id); got < c {
		t.Fatalf("restored counter %d, was %d at checkpoint", got, c)
	}
	e.waitCount(e.id, c+3)
	if got := strings.TrimSpace(e.must("exec", e.id, "cat", "/data/id")); got != "first" {
		t.Errorf("restored bind mount /data shows %q, want \"first\"", got)
	}
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type != unix.CGROUP2_SUPER_MAGIC {
		// v1 (the lane's hybrid boot), no cgroup namespace: the restored
		// container's /sys/fs/cgroup/pids is a bind of its own new cgroup,
		// which holds its init (pid 1 in there).
		procs := e.must("exec", e.id, "cat", "/sys/fs/cgroup/pids/cgroup.procs")
		if !strings.Contains("\n"+procs, "\n1\n") {
			t.Errorf("restored container's /sys/fs/cgroup/pids/cgroup.procs = %q, want its own cgroup with pid 1", procs)
		}
	}
	e.must("delete", "--force", e.id)
	e.assertGone(e.id, 0)
	assertNoCgroup(t, e.id)
}

// Pre-dump leaves the container running; the dump on top of it (parent
// path) restores.
func TestKernelCheckpointPreDump(t *testing.T) {
	needKernel(t, criuWorks(), "a working CRIU (`criu check`)")
	e := newEnv(t)
	e.counterSpec()
	e.must("run", "-d", e.id)
	boot := e.boot(e.id)
	e.waitCount(e.id, 2)
	dir := t.TempDir()
	e.must("checkpoint", "--pre-dump", "--image-path", filepath.Join(dir, "pre"), e.id)
	c := e.waitCount(e.id, e.count(e.id)+1) // still running and counting
	e.must("checkpoint", "--image-path", filepath.Join(dir, "final"), "--parent-path", "../pre", e.id)
	e.assertGone(e.id, 0)
	e.must("restore", "-d", "--image-path", filepath.Join(dir, "final"), e.id)
	e.sameBoot(e.id, boot)
	e.waitCount(e.id, c+2)
	e.must("delete", "--force", e.id)
}

// --leave-running keeps the original; its image restores as a second
// container under a new id, next to it, with a work path for the logs.
func TestKernelCheckpointLeaveRunningNewID(t *testing.T) {
	needKernel(t, criuWorks(), "a working CRIU (`criu check`)")
	e := newEnv(t)
	e.counterSpec()
	e.must("run", "-d", e.id)
	pid := e.state(e.id).Pid
	boot := e.boot(e.id)
	c := e.waitCount(e.id, 3)
	img, work := filepath.Join(t.TempDir(), "img"), t.TempDir()
	e.must("checkpoint", "--leave-running", "--image-path", img, "--work-path", work, e.id)
	if _, err := os.Stat(filepath.Join(work, "dump.log")); err != nil {
		t.Errorf("no dump.log in the work path: %v", err)
	}
	if st := e.state(e.id); st.Status != "running" || st.Pid != pid {
		t.Fatalf("after --leave-running: %+v", st)
	}
	e.waitCount(e.id, c+2)
	// The original must go first: the restored one has its pids.
	e.must("delete", "--force", e.id)
	// The new container's bind mount comes from another directory.
	e.counterSpecData("second", nil)
	id := e.id + "-new"
	pidFile := filepath.Join(t.TempDir(), "pid")
	e.must("restore", "-d", "--image-path", img, "--pid-file", pidFile, id)
	st := e.state(id)
	if st.Status != "running" || st.ID != id {
		t.Fatalf("restored as %s: %+v", id, st)
	}
	if data, _ := os.ReadFile(pidFile); strings.TrimSpace(string(data)) != strconv.Itoa(st.Pid) {
		t.Errorf("pid file %q, state pid %d", data, st.Pid)
	}
	e.sameBoot(id, boot)
	e.waitCount(id, c+1)
	if got := strings.TrimSpace(e.must("exec", id, "cat", "/data/id")); got != "second" {
		t.Errorf("restored bind mount /data shows %q, want the new source's \"second\"", got)
	}
	e.must("delete", "--force", id)
	e.assertGone(id, st.Pid)
	assertNoCgroup(t, id)
}

// Without -d, restore stays attached as run does: it waits for the
// restored init, passes its status on (128+9 for SIGKILL) and deletes the
// container.
func TestKernelCheckpointRestoreForeground(t *testing.T) {
	needKernel(t, criuWorks(), "a working CRIU (`criu check`)")
	e := newEnv(t)
	e.counterSpec()
	e.must("run", "-d", e.id)
	c := e.waitCount(e.id, 2)
	img := filepath.Join(t.TempDir(), "img")
	e.must("checkpoint", "--image-path", img, e.id)
	// The restore's config has prestart and createRuntime hooks: they
	// run (as with runc) once CRIU has made the namespaces, with the
	// restored init's pid.
	out := t.TempDir()
	e.counterSpecData("first", func(s *specs.Spec) {
		hook := func(name string) []specs.Hook {
			return []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + filepath.Join(out, name)}}}
		}
		s.Hooks = &specs.Hooks{Prestart: hook("prestart"), CreateRuntime: hook("createRuntime")}
	})
	cmd := exec.Command(huskBin, "--root", e.root, "restore", "--image-path", img, e.id)
	cmd.Dir = e.bundle
	restore := start(t, cmd)
	e.waitStatus(e.id, "running")
	e.waitCount(e.id, c+1)
	pid := e.state(e.id).Pid
	for _, name := range []string{"prestart", "createRuntime"} {
		var st specs.State
		data, _ := os.ReadFile(filepath.Join(out, name))
		if err := json.Unmarshal(data, &st); err != nil || st.Pid != pid || st.ID != e.id || st.Status != specs.StateCreated {
			t.Errorf("%s hook got state %q (%v), want pid %d, id %s, status created", name, data, err, pid, e.id)
		}
	}
	e.must("kill", e.id, "KILL")
	select {
	case <-restore.done:
		if ee, ok := restore.err.(*exec.ExitError); !ok || ee.ExitCode() != 137 {
			t.Fatalf("foreground restore after SIGKILL: %v, want exit status 137", restore.err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("foreground restore did not return after its container was killed")
	}
	e.assertGone(e.id, pid)
	assertNoCgroup(t, e.id)
}

// A terminal container (pty master at the engine, through the console
// socket) restores with a new master on the new console socket, through
// which the restored process reads and writes (CRIU's orphan-pts-master).
func TestKernelCheckpointTerminal(t *testing.T) {
	needKernel(t, criuWorks(), "a working CRIU (`criu check`)")
	e := newEnv(t)
	s := e.spec("sh", "-c", `echo $$-$RANDOM > /tmp/boot; while read l; do echo got-$l; done`)
	s.Process.Terminal = true
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
	e.write(s)
	sock, ch := consoleListener(t)
	e.must("run", "-d", "--console-socket", sock, e.id)
	first := <-ch
	if first == nil {
		t.Fatal("no pty master on the console socket")
	}
	defer first.Close()
	boot := e.boot(e.id)
	img := filepath.Join(t.TempDir(), "img")
	e.must("checkpoint", "--image-path", img, e.id)
	sock2, ch2 := consoleListener(t)
	e.must("restore", "-d", "--image-path", img, "--console-socket", sock2, e.id)
	master := <-ch2
	if master == nil {
		t.Fatal("restore: no pty master on the console socket")
	}
	defer master.Close()
	e.sameBoot(e.id, boot)
	master.Write([]byte("again\n"))
	var out []byte
	buf := make([]byte, 4096)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(string(out), "got-again") && time.Now().Before(deadline) {
		master.SetReadDeadline(deadline)
		n, err := master.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			break
		}
	}
	if !strings.Contains(string(out), "got-again") {
		t.Fatalf("restored process did not answer on the new terminal: %q", out)
	}
	e.must("delete", "--force", e.id)
}
