package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// runDetached starts s as a detached container and returns its init pid.
func (e *env) runDetached(s *specs.Spec) int {
	e.t.Helper()
	e.write(s)
	e.must("run", "-d", e.id)
	return e.state(e.id).Pid
}

// Every namespace, the cgroups, the rlimits and the hostname of an exec'd
// process are the container's.
func TestExecJoinsNamespacesCgroupsAndLimits(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sleep", "1000")
	// Every type but user (see TestExecInUserNamespace) and time (not
	// every kernel has it).
	s.Linux.Namespaces = nil
	for _, typ := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.NetworkNamespace, specs.MountNamespace,
		specs.IPCNamespace, specs.UTSNamespace, specs.CgroupNamespace} {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: typ})
	}
	s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 321, Hard: 654}}
	pid := e.runDetached(s)
	var script strings.Builder
	for _, ns := range s.Linux.Namespaces {
		fmt.Fprintf(&script, "echo %s $(readlink /proc/self/ns/%s);", ns.Type, procNSName[ns.Type])
	}
	script.WriteString("echo limits $(ulimit -n) $(ulimit -Hn); echo host $(hostname); echo selfpid $$")
	r := e.husk("exec", e.id, "sh", "-c", script.String())
	if r.code != 0 {
		t.Fatalf("exec: %v", r)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		k, v, _ := strings.Cut(line, " ")
		got[k] = v
	}
	for _, ns := range s.Linux.Namespaces {
		want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, procNSName[ns.Type]))
		if err != nil {
			t.Fatal(err)
		}
		if got[string(ns.Type)] != want {
			t.Errorf("exec'd process's %s namespace %q, container init's %q", ns.Type, got[string(ns.Type)], want)
		}
		if want == hostNS(t, ns.Type) {
			t.Errorf("container's %s namespace is the host's: the test proves nothing", ns.Type)
		}
	}
	if got["limits"] != "321 654" || got["host"] != "husk" {
		t.Errorf("exec'd process: limits %q (want 321 654), hostname %q (want husk)", got["limits"], got["host"])
	}
	if n, _ := strconv.Atoi(got["selfpid"]); n < 2 {
		t.Errorf("exec'd process's pid in the container %q, want >= 2", got["selfpid"])
	}
	// The cgroups: an exec -d process seen from the host.
	execPid := e.execDetached("sleep", "1000")
	initCg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	execCg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", execPid))
	if len(initCg) == 0 || string(initCg) != string(execCg) {
		t.Errorf("exec'd process's cgroups differ from the init's:\n%s\nvs\n%s", execCg, initCg)
	}
	e.must("delete", "--force", e.id)
	e.assertGone(e.id, pid)
	if pidAlive(execPid) {
		t.Errorf("exec'd process %d outlived the container", execPid)
	}
}

func TestExecInUserNamespace(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sleep", "1000")
	userNSSpec(s)
	pid := e.runDetached(s)
	r := e.husk("exec", e.id, "sh", "-c", "readlink /proc/self/ns/user; cat /proc/self/uid_map; id -u")
	want, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid))
	if f := strings.Fields(r.stdout); r.code != 0 || len(f) != 5 || f[0] != want || f[2] != "100000" || f[4] != "0" {
		t.Fatalf("exec in a user namespace: %v, want ns %s", r, want)
	}
}

func TestExecExitCodesAndSignals(t *testing.T) {
	e := newEnv(t)
	e.runDetached(e.spec("sleep", "1000"))
	if r := e.husk("exec", e.id, "sh", "-c", "exit 7"); r.code != 7 {
		t.Errorf("exec exit 7: %v", r)
	}
	if r := e.husk("exec", e.id, "sh", "-c", "kill -9 $$"); r.code != 137 {
		t.Errorf("exec killed by SIGKILL: %v, want 137", r)
	}
	if r := e.husk("exec", e.id, "true"); r.code != 0 || r.stdout != "" {
		t.Errorf("exec true: %v", r)
	}
	e.fails(`exec: "no-such-program": executable file not found in $PATH`, "exec", e.id, "no-such-program")
	// A signal to husk exec reaches the process.
	cmd := exec.Command(huskBin, "--root", e.root, "exec", e.id, "sh", "-c", "trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 0.1; done")
	var out bytes.Buffer
	r, w, _ := os.Pipe()
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	line := make([]byte, 6)
	if _, err := r.Read(line); err != nil || string(line) != "ready\n" {
		t.Fatalf("exec'd shell did not start: %q %v", line, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	buf := make([]byte, 100)
	n, _ := r.Read(buf)
	out.Write(buf[:n])
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 42 || !strings.Contains(out.String(), "got-term") {
		t.Fatalf("SIGTERM to husk exec: %v, output %q; want exit 42 and got-term", err, out.String())
	}
}

// Flags override the config's process; everything after the command is
// the command's, flags included.
func TestExecFlags(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sleep", "1000")
	s.Process.Env = append(s.Process.Env, "FOO=config", "KEEP=yes")
	e.runDetached(s)
	r := e.husk("exec", "--cwd", "/tmp", "-e", "FOO=flag", "--env", "NEW=1", "-u", "1000:2000", "-g", "3000",
		e.id, "sh", "-c", `echo "$(pwd)|$FOO|$KEEP|$NEW|$(id -u):$(id -g)|$(id -G)|$@"`, "argv0", "-e", "--cwd", "--", "x")
	want := "/tmp|flag|yes|1|1000:2000|2000 3000|-e --cwd -- x\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("exec with flags: %v, want %q", r, want)
	}
	// --process: the whole process from a file.
	p := *s.Process
	p.Args = []string{"sh", "-c", "echo $PJ $(pwd) $(id -u)"}
	p.Env = []string{"PATH=/bin", "PJ=from-process-json"}
	p.Cwd = "/etc"
	p.User = specs.User{UID: 65534, GID: 65534}
	data, _ := json.Marshal(&p)
	pj := filepath.Join(t.TempDir(), "process.json")
	os.WriteFile(pj, data, 0o644)
	if r := e.husk("exec", "-p", pj, e.id); r.code != 0 || r.stdout != "from-process-json /etc 65534\n" {
		t.Fatalf("exec -p: %v", r)
	}
	e.fails("--user \"x\": uid must be a number", "exec", "-u", "x", e.id, "true")
	e.fails(`"exec" requires a minimum of 2 arguments`, "exec", e.id)
	e.fails("--cap: unknown capability", "exec", "--cap", "CAP_NOPE", e.id, "true")
}

// -d --pid-file: husk returns at once and the pid file names the process,
// which runs in the container.
func TestExecDetachPidFile(t *testing.T) {
	e := newEnv(t)
	pid := e.runDetached(e.spec("sleep", "1000"))
	execPid := e.execDetached("sleep", "1000")
	if !pidAlive(execPid) {
		t.Fatalf("exec -d process %d is not running", execPid)
	}
	a, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", execPid))
	b, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	if a == "" || a != b {
		t.Fatalf("exec -d process in pid namespace %q, container's %q", a, b)
	}
	e.must("delete", "--force", e.id)
	e.assertGone(e.id, execPid)
}

// consoleListener accepts one connection on a new unix socket and hands
// over the descriptor sent on it.
func consoleListener(t *testing.T) (string, chan *os.File) {
	path := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ch := make(chan *os.File, 1)
	go func() {
		conn, err := l.AcceptUnix()
		if err != nil {
			ch <- nil
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 4096), make([]byte, 64)
		_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			ch <- nil
			return
		}
		fds, _ := unix.ParseUnixRights(&msgs[0])
		ch <- os.NewFile(uintptr(fds[0]), "master")
	}()
	return path, ch
}

func TestExecTTYConsoleSocket(t *testing.T) {
	e := newEnv(t)
	e.runDetached(e.spec("sleep", "1000"))
	sock, ch := consoleListener(t)
	e.must("exec", "-t", "-d", "--console-socket", sock, e.id, "sh", "-c", "tty; test -t 0 && echo stdin-is-tty; read l; echo got-$l")
	master := <-ch
	if master == nil {
		t.Fatal("no pty master on the console socket")
	}
	defer master.Close()
	master.Write([]byte("hi\n"))
	var out bytes.Buffer
	buf := make([]byte, 4096)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "got-hi") && time.Now().Before(deadline) {
		master.SetReadDeadline(deadline)
		n, err := master.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	for _, want := range []string{"/dev/pts/", "stdin-is-tty", "got-hi"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("exec terminal output lacks %q: %q", want, out.String())
		}
	}
	e.fails("cannot allocate tty if husk will detach without setting console socket", "exec", "-t", "-d", e.id, "true")
}

func TestExecForegroundTTY(t *testing.T) {
	e := newEnv(t)
	e.runDetached(e.spec("sleep", "1000"))
	out, err := e.huskOnPty("exec", "-t", e.id, "sh", "-c", "test -t 1 && echo stdout-is-tty; exit 4")
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 4 || !strings.Contains(out, "stdout-is-tty") {
		t.Fatalf("exec -t: %v, output %q; want exit 4 and stdout-is-tty", err, out)
	}
}

func TestExecIntoStoppedOrMissingContainerFails(t *testing.T) {
	e := newEnv(t)
	e.write(e.spec("true"))
	e.must("run", "-d", e.id)
	e.waitStatus(e.id, "stopped")
	e.fails("cannot exec in a stopped container", "exec", e.id, "true")
	e.must("delete", e.id)
	e.fails("does not exist", "exec", e.id, "true")
	e.assertGone(e.id, 0)
}

// A created container (not started yet) takes exec'd processes, as runc.
func TestExecIntoCreatedContainer(t *testing.T) {
	e := newEnv(t)
	e.write(e.spec("sleep", "1000"))
	e.must("create", e.id)
	if r := e.husk("exec", e.id, "echo", "hello"); r.code != 0 || r.stdout != "hello\n" {
		t.Fatalf("exec in a created container: %v", r)
	}
	if st := e.state(e.id).Status; st != "created" {
		t.Fatalf("status after exec %q, want created", st)
	}
}

// On a cgroup v2 host an exec'd process joins the init's unified cgroup
// (this machine is v1 hybrid: the kernel lane runs it).
func TestKernelExecCgroup2(t *testing.T) {
	needKernel(t, cgroup2Only(), "a cgroup v2 (unified) host")
	e := newEnv(t)
	s := e.spec("sleep", "1000")
	pid := e.runDetached(s)
	execPid := e.execDetached("sleep", "1000")
	initCg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	execCg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", execPid))
	if !strings.HasPrefix(string(initCg), "0::/") || string(initCg) != string(execCg) {
		t.Fatalf("exec'd process's cgroup %q, init's %q", execCg, initCg)
	}
	if r := e.husk("exec", e.id, "sh", "-c", "exit 3"); r.code != 3 {
		t.Fatalf("exec exit 3: %v", r)
	}
}

// exec into a paused container fails as runc's does; after resume it
// works. --ignore-paused lets it through: the process starts frozen with
// the rest and runs on resume.
func TestExecIntoPausedContainer(t *testing.T) {
	e := newEnv(t)
	e.runDetached(e.spec("sleep", "1000"))
	e.must("pause", e.id)
	e.fails("cannot exec in a paused container (use --ignore-paused to override)", "exec", e.id, "true")
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	e.must("exec", "--ignore-paused", "-d", "--pid-file", pidFile, e.id, "sleep", "1000")
	data, _ := os.ReadFile(pidFile)
	execPid, _ := strconv.Atoi(string(data))
	if execPid <= 0 || !pidAlive(execPid) {
		t.Fatalf("exec --ignore-paused: no process (pid file %q)", data)
	}
	initCg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", e.state(e.id).Pid))
	execCg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", execPid))
	if string(initCg) != string(execCg) {
		t.Fatalf("exec --ignore-paused process's cgroups %q, init's %q", execCg, initCg)
	}
	e.must("resume", e.id)
	if r := e.husk("exec", e.id, "echo", "resumed"); r.code != 0 || r.stdout != "resumed\n" {
		t.Fatalf("exec after resume: %v", r)
	}
}

func TestExecPreserveFdsAndNoNewPrivs(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sleep", "1000")
	s.Process.NoNewPrivileges = false
	e.runDetached(s)
	f, err := os.CreateTemp(t.TempDir(), "fd3")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("through fd 3\n")
	f.Seek(0, 0)
	r := e.huskCmd(func(c *exec.Cmd) { c.ExtraFiles = []*os.File{f} },
		"exec", "--preserve-fds", "1", e.id, "sh", "-c", "cat <&3; grep NoNewPrivs /proc/self/status")
	if r.code != 0 || r.stdout != "through fd 3\nNoNewPrivs:\t0\n" {
		t.Fatalf("exec --preserve-fds 1: %v", r)
	}
	// Without --preserve-fds the descriptor does not reach the process.
	f.Seek(0, 0)
	r = e.huskCmd(func(c *exec.Cmd) { c.ExtraFiles = []*os.File{f} }, "exec", "--no-new-privs", e.id, "sh", "-c", "test -e /proc/self/fd/3 && echo leaked; grep NoNewPrivs /proc/self/status")
	if r.code != 0 || r.stdout != "NoNewPrivs:\t1\n" {
		t.Fatalf("exec --no-new-privs without --preserve-fds: %v", r)
	}
}

// --cgroup puts the process in an existing sub-cgroup of the container's.
func TestExecSubCgroup(t *testing.T) {
	if cgroup2Only() {
		t.Skip("SKIP: needs a cgroup v1 pids hierarchy (this test's controller:path form); TestKernelExecCgroup2 covers v2")
	}
	e := newEnv(t)
	pid := e.runDetached(e.spec("sleep", "1000"))
	pidsPath := pidsCgroup(t, pid)
	sub := filepath.Join("/sys/fs/cgroup/pids", pidsPath, "husk-exec-sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(sub)
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	e.must("exec", "--cgroup", "pids:husk-exec-sub", "-d", "--pid-file", pidFile, e.id, "sleep", "1000")
	b, _ := os.ReadFile(pidFile)
	execPid, _ := strconv.Atoi(string(b))
	cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", execPid))
	if !strings.Contains(string(cg), ":pids:"+pidsPath+"/husk-exec-sub\n") {
		t.Errorf("exec --cgroup pids:husk-exec-sub: process cgroups\n%s", cg)
	}
	syscall.Kill(execPid, syscall.SIGKILL)
	for i := 0; i < 100 && pidAlive(execPid); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	for i := 0; i < 100 && os.Remove(sub) != nil; i++ {
		time.Sleep(20 * time.Millisecond) // the reaper may not have collected it yet
	}
	e.fails("join cgroup", "exec", "--cgroup", "pids:no-such-sub", e.id, "true")
}

// As an unprivileged user: the state goes to $XDG_RUNTIME_DIR/husk, the
// container gets a user namespace mapping root to the user (husk spec
// --rootless), and exec joins it (setgroups denied, no cgroup writes).
func TestRootlessRunAndExec(t *testing.T) {
	e := newEnv(t)
	xdg := t.TempDir()
	os.Chmod(filepath.Dir(xdg), 0o755)
	os.Chown(xdg, 1000, 1000)
	bundle := t.TempDir()
	os.Chmod(filepath.Dir(bundle), 0o755)
	os.Chown(bundle, 1000, 1000)
	husk := func(args ...string) result {
		t.Helper()
		cmd := exec.Command(huskBin, args...)
		cmd.Dir = bundle
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+xdg)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 1000, Gid: 1000}}
		// Files, not pipes: a detached container would hold a pipe open.
		dir := t.TempDir()
		outF, _ := os.Create(filepath.Join(dir, "stdout"))
		errF, _ := os.Create(filepath.Join(dir, "stderr"))
		defer outF.Close()
		defer errF.Close()
		cmd.Stdout, cmd.Stderr = outF, errF
		err := cmd.Run()
		out, _ := os.ReadFile(outF.Name())
		errb, _ := os.ReadFile(errF.Name())
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return result{string(out), string(errb), code}
	}
	if r := husk("spec", "--rootless"); r.code != 0 {
		t.Fatalf("spec --rootless: %v", r)
	}
	var s specs.Spec
	data, _ := os.ReadFile(filepath.Join(bundle, "config.json"))
	json.Unmarshal(data, &s)
	s.Root.Path = rootfsTemplate(t)
	s.Process.Terminal = false
	s.Process.Args = []string{"sh", "-c", "id -u; cat /proc/self/uid_map; exec sleep 1000"}
	data, _ = json.Marshal(&s)
	os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644)
	id := e.id + "-rootless"
	defer husk("delete", "--force", id)
	if r := husk("run", "-d", id); r.code != 0 {
		t.Fatalf("rootless run -d: %v", r)
	}
	if _, err := os.Stat(filepath.Join(xdg, "husk", id, "state.json")); err != nil {
		t.Fatalf("rootless state is not under $XDG_RUNTIME_DIR/husk: %v", err)
	}
	r := husk("exec", id, "sh", "-c", "id -u; cat /proc/self/uid_map")
	if f := strings.Fields(r.stdout); r.code != 0 || len(f) != 4 || f[0] != "0" || f[2] != "1000" || f[3] != "1" {
		t.Fatalf("rootless exec: %v", r)
	}
	if r := husk("delete", "--force", id); r.code != 0 {
		t.Fatalf("rootless delete: %v", r)
	}
	if entries, _ := os.ReadDir(filepath.Join(xdg, "husk")); len(entries) != 0 {
		t.Fatalf("rootless delete left %d entries", len(entries))
	}
}

// execDetached runs `husk exec -d --pid-file` of args in the container and
// returns the pid the file names.
func (e *env) execDetached(args ...string) int {
	e.t.Helper()
	pidFile := filepath.Join(e.t.TempDir(), "exec.pid")
	e.must(append([]string{"exec", "-d", "--pid-file", pidFile, e.id}, args...)...)
	data, err := os.ReadFile(pidFile)
	if err != nil {
		e.t.Fatal(err)
	}
	pid, _ := strconv.Atoi(string(data))
	return pid
}

// pidsCgroup is process pid's cgroup in the v1 pids hierarchy.
func pidsCgroup(t *testing.T, pid int) string {
	t.Helper()
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.SplitN(line, ":", 3); len(f) == 3 && f[1] == "pids" {
			return f[2]
		}
	}
	t.Fatalf("process %d has no pids cgroup: %s", pid, data)
	return ""
}
