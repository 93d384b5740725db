package integration

import (
	"bytes"
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

func TestProcessArgsEnvCwdUser(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sh", "-c", `echo "$FOO|$(pwd)|$(id -u):$(id -g):$(id -G)|$1"`, "argv0", "first arg")
	s.Process.Env = append(s.Process.Env, "FOO=bar baz")
	s.Process.Cwd = "/home/user/new/dir" // created when missing
	s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{2000, 3000}}
	e.write(s)
	r := e.husk("run", e.id)
	want := "bar baz|/home/user/new/dir|1000:1000:1000 2000 3000|first arg\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("run: %v, want stdout %q", r, want)
	}
}

func TestRootfsMountsInOrderAndReadonlyRoot(t *testing.T) {
	e := newEnv(t)
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "file"), []byte("from host"), 0o644)
	s := e.spec("sh", "-c", `cat /mnt/data/file; cat /etc/one.conf; ls /mnt/data/sub/;
		grep -E ' /(mnt/data|mnt/data/sub|mnt/ro|proc|dev/shm|dev/mqueue|sys) ' /proc/self/mountinfo | awk '{print $5, $6}';
		touch /rootfs-write 2>/dev/null && echo root-writable || echo root-readonly;
		touch /mnt/ro/x 2>/dev/null && echo ro-writable || echo ro-readonly;
		touch /mnt/data/sub/x && echo tmpfs-writable`)
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/mnt/data", Type: "bind", Source: host, Options: []string{"rbind", "rw"}},
		// Mounted over the bind mount above: order matters.
		specs.Mount{Destination: "/mnt/data/sub", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}},
		specs.Mount{Destination: "/mnt/ro", Type: "bind", Source: host, Options: []string{"bind", "ro"}},
		// A file bind mount onto a path that does not exist yet.
		specs.Mount{Destination: "/etc/one.conf", Type: "bind", Source: filepath.Join(host, "file"), Options: []string{"bind", "ro"}},
	)
	e.write(s)
	r := e.husk("run", e.id)
	if r.code != 0 {
		t.Fatalf("run: %v", r)
	}
	for _, want := range []string{"from hostfrom host", "/mnt/data rw", "/mnt/data/sub rw", "/mnt/ro ro",
		"/proc rw", "/dev/shm rw", "/dev/mqueue rw", "/sys ro", "root-readonly", "ro-readonly", "tmpfs-writable"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("container output lacks %q:\n%s", want, r.stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(host, "sub", "x")); err == nil {
		t.Errorf("tmpfs write reached the host")
	}
	if _, err := os.Stat(filepath.Join(s.Root.Path, "etc", "one.conf")); err != nil {
		t.Errorf("file mount point was not created in the rootfs: %v", err)
	}
	os.Remove(filepath.Join(s.Root.Path, "etc", "one.conf"))
	os.RemoveAll(filepath.Join(s.Root.Path, "mnt"))
}

func TestDevMaskedAndReadonlyPaths(t *testing.T) {
	e := newEnv(t)
	// A masked file the host really has (which exist depends on the kernel).
	masked := ""
	for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			masked = p
			break
		}
	}
	if masked == "" {
		t.Fatal("host has none of the masked /proc files to test with")
	}
	s := e.spec("sh", "-c", `ls -l /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty | awk '{print $1, $5 $6, $NF}';
		for l in ptmx fd stdin stdout stderr; do echo "$l -> $(readlink /dev/$l)"; done;
		echo x > /dev/null && echo null-ok; head -c 3 /dev/zero | od -An -tx1;
		echo "masked bytes: $(wc -c < `+masked+`)"; echo "firmware entries: $(ls /sys/firmware | wc -l)";
		echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo sys-readonly`)
	e.write(s)
	r := e.husk("run", e.id)
	if r.code != 0 {
		t.Fatalf("run: %v", r)
	}
	for _, want := range []string{"crw-rw-rw- 1,3 /dev/null", "crw-rw-rw- 1,5 /dev/zero", "crw-rw-rw- 1,7 /dev/full",
		"crw-rw-rw- 1,8 /dev/random", "crw-rw-rw- 1,9 /dev/urandom", "crw-rw-rw- 5,0 /dev/tty",
		"ptmx -> pts/ptmx\nfd -> /proc/self/fd\nstdin -> /proc/self/fd/0\nstdout -> /proc/self/fd/1\nstderr -> /proc/self/fd/2\n",
		"null-ok", "00 00 00", "masked bytes: 0\n", "firmware entries: 0\n", "sys-readonly"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("container output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestNoPivot(t *testing.T) {
	e := newEnv(t)
	e.write(e.spec("sh", "-c", "ls / | head -3; echo $$"))
	r := e.husk("run", "--no-pivot", e.id)
	if r.code != 0 || !strings.HasSuffix(r.stdout, "1\n") || !strings.Contains(r.stdout, "bin") {
		t.Fatalf("run --no-pivot: %v", r)
	}
}

func TestDetachPidFileAndPreserveFds(t *testing.T) {
	e := newEnv(t)
	e.write(e.spec("sh", "-c", "echo through-fd-3 >&3; echo through-fd-4 >&4; sleep 60"))
	dir := t.TempDir()
	f3, _ := os.Create(filepath.Join(dir, "fd3"))
	f4, _ := os.Create(filepath.Join(dir, "fd4"))
	pidFile := filepath.Join(dir, "pid")
	start := time.Now()
	r := e.huskCmd(func(c *exec.Cmd) { c.ExtraFiles = []*os.File{f3, f4} },
		"run", "-d", "--pid-file", pidFile, "--preserve-fds", "2", e.id)
	if r.code != 0 {
		t.Fatalf("run -d: %v", r)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("run -d did not return promptly")
	}
	st := e.state(e.id)
	if st.Status != "running" {
		t.Fatalf("after run -d: %+v", st)
	}
	if data, _ := os.ReadFile(pidFile); string(data) != strconv.Itoa(st.Pid) {
		t.Fatalf("pid file %q, pid %d", data, st.Pid)
	}
	waitFile(t, f3.Name(), "through-fd-3\n")
	waitFile(t, f4.Name(), "through-fd-4\n")
	e.must("delete", "--force", e.id)
	e.assertGone(e.id, st.Pid)
}

func TestListenFds(t *testing.T) {
	e := newEnv(t)
	e.write(e.spec("sh", "-c", "echo $LISTEN_FDS $LISTEN_PID; echo activated >&3"))
	f3, _ := os.Create(filepath.Join(t.TempDir(), "fd3"))
	r := e.huskCmd(func(c *exec.Cmd) {
		c.ExtraFiles = []*os.File{f3}
		c.Env = append(os.Environ(), "LISTEN_FDS=1")
	}, "run", e.id)
	if r.code != 0 || r.stdout != "1 1\n" {
		t.Fatalf("run with LISTEN_FDS=1: %v", r)
	}
	waitFile(t, f3.Name(), "activated\n")
}

func TestConsoleSocketGetsPtyMaster(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sh", "-c", "tty; test -t 0 && echo stdin-is-tty; stty size; read line; echo got-$line")
	s.Process.Terminal = true
	s.Process.ConsoleSize = &specs.Box{Height: 33, Width: 99}
	e.write(s)
	sockPath := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sockPath, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	masterCh := make(chan *os.File, 1)
	go func() {
		conn, err := l.AcceptUnix()
		if err != nil {
			masterCh <- nil
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 64), make([]byte, 64)
		_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			masterCh <- nil
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		fds, _ := unix.ParseUnixRights(&msgs[0])
		masterCh <- os.NewFile(uintptr(fds[0]), "master")
	}()
	e.must("create", "--console-socket", sockPath, e.id)
	master := <-masterCh
	if master == nil {
		t.Fatal("no pty master received on the console socket")
	}
	defer master.Close()
	e.must("start", e.id)
	master.Write([]byte("hello\n"))
	var out bytes.Buffer
	buf := make([]byte, 4096)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "got-hello") && time.Now().Before(deadline) {
		master.SetReadDeadline(deadline)
		n, err := master.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	for _, want := range []string{"/dev/pts/0", "stdin-is-tty", "33 99", "got-hello"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("terminal output lacks %q: %q", want, out.String())
		}
	}
	e.waitStatus(e.id, "stopped")
	e.must("delete", e.id)
}

func TestForegroundTerminal(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sh", "-c", "test -t 1 && echo stdout-is-tty; exit 5")
	s.Process.Terminal = true
	e.write(s)
	// husk's own stdio is a pty here, as for a user at a shell.
	out, err := e.huskOnPty("run", e.id)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 5 {
		t.Fatalf("run with terminal: %v, output %q; want exit 5", err, out)
	}
	if !strings.Contains(out, "stdout-is-tty") {
		t.Fatalf("terminal output %q lacks stdout-is-tty", out)
	}
}

// huskOnPty runs husk in the bundle with a new pty as its stdio and
// controlling terminal, as a user at a shell would, and returns what the
// terminal showed and husk's exit.
func (e *env) huskOnPty(args ...string) (string, error) {
	e.t.Helper()
	master, slave, err := openPty()
	if err != nil {
		e.t.Fatal(err)
	}
	defer master.Close()
	cmd := exec.Command(huskBin, append([]string{"--root", e.root}, args...)...)
	cmd.Dir = e.bundle
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	slave.Close()
	var out bytes.Buffer
	buf := make([]byte, 4096)
	master.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, err := master.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return out.String(), cmd.Wait()
}

func openPty() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		return nil, nil, err
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		return nil, nil, err
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|unix.O_NOCTTY, 0)
	return m, s, err
}

func TestTerminalNeedsConsoleSocketWhenDetached(t *testing.T) {
	e := newEnv(t)
	s := e.spec("true")
	s.Process.Terminal = true
	e.write(s)
	e.fails("cannot allocate tty if husk will detach without setting console socket", "create", e.id)
	e.assertGone(e.id, 0)
}

func TestRlimitsAndNoNewPrivileges(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sh", "-c", "ulimit -n; ulimit -Hn; grep NoNewPrivs /proc/self/status")
	s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 1000}}
	e.write(s)
	r := e.husk("run", e.id)
	if r.code != 0 || r.stdout != "512\n1000\nNoNewPrivs:\t1\n" {
		t.Fatalf("run: %v", r)
	}
	// Above the hard limit (this machine has no CAP_SYS_RESOURCE).
	var cur unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &cur)
	if hasCap(unix.CAP_SYS_RESOURCE) {
		t.Skip("SKIP: host has CAP_SYS_RESOURCE, raising rlimits works here")
	}
	s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: cur.Max + 1, Hard: cur.Max + 1}}
	e.write(s)
	e.fails("process.rlimits[0] RLIMIT_NOFILE", "run", e.id)
	e.assertGone(e.id, 0)
}

func hasCap(c int) bool {
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:\t"); ok {
			n, _ := strconv.ParseUint(v, 16, 64)
			return n&(1<<uint(c)) != 0
		}
	}
	return false
}

func TestCapabilitiesApplied(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sh", "-c", "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status")
	e.write(s) // the default: AUDIT_WRITE, KILL, NET_BIND_SERVICE
	r := e.husk("run", e.id)
	// bits 29, 5, 10 = 0x20000420. The ambient set stays empty: the
	// kernel allows ambient only for inheritable capabilities, and the
	// default spec has none (runc behaves the same).
	want := "CapInh:\t0000000000000000\nCapPrm:\t0000000020000420\nCapEff:\t0000000020000420\nCapBnd:\t0000000020000420\nCapAmb:\t0000000000000000\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("run: %v, want %q", r, want)
	}
}

func TestSessionKeyring(t *testing.T) {
	e := newEnv(t)
	s := e.spec("cat", "/proc/keys")
	// /proc/keys is masked by default; this test needs to read it.
	var masked []string
	for _, p := range s.Linux.MaskedPaths {
		if p != "/proc/keys" {
			masked = append(masked, p)
		}
	}
	s.Linux.MaskedPaths = masked
	e.write(s)
	r := e.husk("run", e.id)
	if r.code != 0 || !strings.Contains(r.stdout, "_ses."+e.id) {
		t.Fatalf("run: %v; want a session keyring named _ses.%s", r, e.id)
	}
	// Another id: keyrings of finished containers linger until the
	// kernel collects them.
	id2 := e.id + "-nokeyring"
	r = e.husk("run", "--no-new-keyring", id2)
	if r.code != 0 || strings.Contains(r.stdout, "_ses."+id2) {
		t.Fatalf("run --no-new-keyring: %v; want no keyring of the container's own", r)
	}
}
