// Package integration runs the husk binary as engines do and checks what
// users see: output, exit codes, state JSON, and that nothing is left on
// the host. It needs root; it uses $HUSK_BINARY (make test sets it).
//
// Tests named TestKernel* need kernel features this machine may lack; they
// skip with the reason here and run in the kernel lane
// (tests/kernel/run.sh), where HUSK_KERNEL_LANE=1 turns a missing feature
// into a failure.
package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var huskBin string

func TestMain(m *testing.M) {
	huskBin = os.Getenv("HUSK_RUNTIME")
	if huskBin == "" {
		huskBin = os.Getenv("HUSK_BINARY")
	}
	if huskBin == "" {
		if p, err := filepath.Abs("../../husk"); err == nil {
			huskBin = p
		}
	}
	if _, err := os.Stat(huskBin); err != nil {
		fmt.Fprintf(os.Stderr, "integration: husk binary %q not found: run `make husk` or set HUSK_BINARY\n", huskBin)
		os.Exit(1)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "integration: these tests run real containers and need root")
		os.Exit(1)
	}
	code := m.Run()
	// The shared busybox rootfs and the sd-notify helper live outside any
	// test's own t.TempDir(): remove them so runs leave nothing in /tmp.
	if busyboxRootfs != "" {
		os.RemoveAll(busyboxRootfs)
	}
	if sdNotifyBin != "" {
		os.RemoveAll(filepath.Dir(sdNotifyBin))
	}
	if rawSyscallBin != "" {
		os.RemoveAll(filepath.Dir(rawSyscallBin))
	}
	os.Exit(code)
}

// kernelLane reports whether we run inside the kernel lane's VM, where
// every kernel feature is expected to be present.
func kernelLane() bool { return os.Getenv("HUSK_KERNEL_LANE") == "1" }

// needKernel skips (host) or fails (kernel lane) a test whose kernel
// feature is missing.
func needKernel(t *testing.T, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if kernelLane() {
		t.Fatalf("kernel lane lacks a required feature: %s", why)
	}
	t.Skipf("SKIP: needs %s (runs in the kernel lane: make test-kernel)", why)
}

var busyboxOnce sync.Once
var busyboxRootfs string

// rootfsTemplate builds one busybox rootfs per test binary; bundles copy
// nothing but link it, as it is only read.
func rootfsTemplate(t *testing.T) string {
	busyboxOnce.Do(func() {
		dir, err := os.MkdirTemp("", "husk-it-rootfs-")
		if err != nil {
			panic(err)
		}
		os.Chmod(dir, 0o755) // user namespaces must reach it
		for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc", "root", "home/user"} {
			os.MkdirAll(filepath.Join(dir, d), 0o755)
		}
		os.Chmod(filepath.Join(dir, "tmp"), 0o1777)
		bb, err := exec.LookPath("busybox")
		if err != nil {
			bb = "/bin/busybox"
		}
		data, err := os.ReadFile(bb)
		if err != nil {
			panic("busybox-static is needed: " + err.Error())
		}
		os.WriteFile(filepath.Join(dir, "bin/busybox"), data, 0o755)
		out, _ := exec.Command(bb, "--list").Output()
		for _, a := range strings.Fields(string(out)) {
			if a != "busybox" {
				os.Symlink("busybox", filepath.Join(dir, "bin", a))
			}
		}
		os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "etc/group"), []byte("root:x:0:\nuser:x:1000:\nextra:x:2000:user\nnogroup:x:65534:\n"), 0o644)
		busyboxRootfs = dir
	})
	return busyboxRootfs
}

// env is one test's world: its own state root, bundle dir and ids.
type env struct {
	t      *testing.T
	root   string
	bundle string
	id     string
	// wrap, when set, runs every husk call (cleanup included) through
	// this command, e.g. nsenter into the namespaces of a test systemd.
	wrap []string
}

// huskCommand is husk with this env's --root, through e.wrap if set.
func (e *env) huskCommand(ctx context.Context, args ...string) *exec.Cmd {
	argv := append(append(append([]string{}, e.wrap...), huskBin, "--root", e.root), args...)
	return exec.CommandContext(ctx, argv[0], argv[1:]...)
}

var idSeq atomic.Int64

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	e := &env{
		t:      t,
		root:   filepath.Join(dir, "state"),
		bundle: filepath.Join(dir, "bundle"),
		id:     fmt.Sprintf("it-%d-%d", os.Getpid(), idSeq.Add(1)),
	}
	os.MkdirAll(e.bundle, 0o755)
	t.Cleanup(e.cleanup)
	return e
}

// spec is the default config (as `husk spec` writes it) with a
// non-terminal process running args, the shared rootfs and hostname "husk".
func (e *env) spec(args ...string) *specs.Spec {
	e.t.Helper()
	dir := e.t.TempDir()
	cmd := exec.Command(huskBin, "spec")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("husk spec: %v: %s", err, out)
	}
	var s specs.Spec
	data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if err := json.Unmarshal(data, &s); err != nil {
		e.t.Fatal(err)
	}
	s.Process.Terminal = false
	s.Process.Args = args
	s.Root.Path = rootfsTemplate(e.t)
	return &s
}

// write saves s as the bundle's config.json.
func (e *env) write(s *specs.Spec) {
	e.t.Helper()
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.bundle, "config.json"), data, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// husk runs the binary with this env's --root and waits (30 s at most).
func (e *env) husk(args ...string) result {
	e.t.Helper()
	return e.huskCmd(nil, args...)
}

func (e *env) huskCmd(setup func(*exec.Cmd), args ...string) result {
	e.t.Helper()
	cmd := e.huskCommand(context.Background(), args...)
	cmd.Dir = e.bundle
	// Files, not pipes: a detached container inherits husk's stdio and
	// would keep a pipe open long after husk has exited.
	dir := e.t.TempDir()
	outF, _ := os.Create(filepath.Join(dir, "stdout"))
	errF, _ := os.Create(filepath.Join(dir, "stderr"))
	defer outF.Close()
	defer errF.Close()
	cmd.Stdout, cmd.Stderr = outF, errF
	if setup != nil {
		setup(cmd)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		dumpProcs(e.t, fmt.Sprintf("husk %v still running after 30s", args))
		cmd.Process.Kill()
		// A process stuck in the kernel (state D) outlives SIGKILL: do
		// not let it stall the whole run.
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			e.t.Errorf("husk %v: not reaped 10s after SIGKILL", args)
		}
		out, _ := os.ReadFile(outF.Name())
		errb, _ := os.ReadFile(errF.Name())
		e.t.Fatalf("husk %v: timed out after 30s; stdout %q, stderr %q", args, out, errb)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	out, _ := os.ReadFile(outF.Name())
	errb, _ := os.ReadFile(errF.Name())
	return result{string(out), string(errb), code}
}

// must runs husk and fails the test unless it exits 0.
func (e *env) must(args ...string) string {
	e.t.Helper()
	r := e.husk(args...)
	if r.code != 0 {
		e.t.Fatalf("husk %v: %v", args, r)
	}
	return r.stdout
}

// fails runs husk, expects a non-zero exit and an error mentioning want.
func (e *env) fails(want string, args ...string) result {
	e.t.Helper()
	r := e.husk(args...)
	if r.code == 0 {
		e.t.Fatalf("husk %v succeeded, want an error containing %q: %v", args, want, r)
	}
	if !strings.Contains(r.stderr, want) {
		e.t.Fatalf("husk %v: stderr %q does not contain %q", args, r.stderr, want)
	}
	if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
		e.t.Fatalf("husk %v: error is not one line: %q", args, r.stderr)
	}
	return r
}

type stateJSON struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations"`
	Owner       string            `json:"owner"`
}

func (e *env) state(id string) stateJSON {
	e.t.Helper()
	var s stateJSON
	out := e.must("state", id)
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		e.t.Fatalf("state %s: %v: %s", id, err, out)
	}
	return s
}

// waitStatus polls until the container reaches status (10 s at most); a
// container that does not exist yet (a run still starting) is waited for.
func (e *env) waitStatus(id, status string) stateJSON {
	e.t.Helper()
	var s stateJSON
	for i := 0; i < 200; i++ {
		r := e.husk("state", id)
		s = stateJSON{}
		if r.code == 0 && json.Unmarshal([]byte(r.stdout), &s) == nil && s.Status == status {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("container %s: status %q, want %s", id, s.Status, status)
	return s
}

// cleanup force-deletes whatever the test left and then checks that the
// state root is empty: every test also tests that husk leaves nothing.
func (e *env) cleanup() {
	entries, _ := os.ReadDir(e.root)
	for _, d := range entries {
		// Bounded, like every husk call of the tests: a delete that hangs
		// fails the test (with what was printed before) instead of
		// stalling the whole run.
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := e.huskCommand(ctx, "delete", "--force", d.Name())
		// CombinedOutput reads through a pipe: without a WaitDelay, a
		// process that inherited it would keep Wait blocked after the kill.
		cmd.WaitDelay = 5 * time.Second
		cmd.Cancel = func() error {
			dumpProcs(e.t, "husk delete --force "+d.Name()+" still running after 60s")
			return cmd.Process.Kill()
		}
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			e.t.Errorf("cleanup: husk delete --force %s hung for 60s: %v %s", d.Name(), err, out)
		}
		cancel()
	}
}

// assertGone checks that id has no state entry and that pid (if any) no
// longer runs.
func (e *env) assertGone(id string, pid int) {
	e.t.Helper()
	if _, err := os.Stat(filepath.Join(e.root, id)); !os.IsNotExist(err) {
		e.t.Errorf("state dir of %s still exists (err %v)", id, err)
	}
	if pid > 0 {
		for i := 0; i < 50; i++ {
			if !pidAlive(pid) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		e.t.Errorf("process %d of %s is still alive", pid, id)
	}
}

func pidAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// background is a command the test runs beside husk; done is closed when
// it has exited, with err its Wait result.
type background struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// start runs cmd in the background (output to a log file unless set) and
// stops it, if it is still running, when the test ends.
func start(t *testing.T, cmd *exec.Cmd) *background {
	t.Helper()
	if cmd.Stdout == nil {
		log, _ := os.Create(filepath.Join(t.TempDir(), "out"))
		cmd.Stdout, cmd.Stderr = log, log
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &background{cmd: cmd, done: make(chan struct{})}
	go func() { b.err = cmd.Wait(); close(b.done) }()
	t.Cleanup(func() { b.stop(t) })
	return b
}

// stop kills the command if it still runs, waiting 10 s at most: a task
// stuck in the kernel outlives SIGKILL.
func (b *background) stop(t *testing.T) {
	b.cmd.Process.Kill()
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		dumpProcs(t, fmt.Sprintf("%v not reaped 10s after SIGKILL", b.cmd.Args))
		t.Errorf("%v: not reaped 10s after SIGKILL", b.cmd.Args)
	}
}

// wait waits (60 s at most) for the command to exit successfully.
func (b *background) wait(t *testing.T) {
	t.Helper()
	select {
	case <-b.done:
		if b.err != nil {
			t.Fatalf("%v: %v", b.cmd.Args, b.err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("%v: still running after 60s", b.cmd.Args)
	}
}
