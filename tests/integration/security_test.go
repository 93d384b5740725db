package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func uintp(v uint) *uint { return &v }

// A denied syscall returns the configured errno, in the init and in an
// exec'd process; argument conditions select; unknown names are skipped.
func TestSeccompErrnoAndConditions(t *testing.T) {
	for _, nnp := range []bool{true, false} { // late and early filter load
		e := newEnv(t)
		s := e.spec("sh", "-c", "mkdir /tmp/d; kill -0 $$ || echo kill0-denied; kill -CONT $$ && echo cont-ok")
		s.Process.NoNewPrivileges = nnp
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
			Syscalls: []specs.LinuxSyscall{
				{Names: []string{"mkdir", "mkdirat", "no_such_syscall_husk"}, Action: specs.ActErrno, ErrnoRet: uintp(1)},
				// kill(pid, 0) only: signal 0 is argument 1.
				{Names: []string{"kill"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EACCES)),
					Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0, Op: specs.OpEqualTo}}},
			},
		}
		e.write(s)
		r := e.husk("run", e.id)
		if r.code != 0 || !strings.Contains(r.stderr, "mkdir: can't create directory '/tmp/d': Operation not permitted") ||
			r.stdout != "kill0-denied\ncont-ok\n" || !strings.Contains(r.stderr, "Permission denied") {
			t.Fatalf("nnp=%v: run: %v", nnp, r)
		}
		if _, err := os.Stat(filepath.Join(s.Root.Path, "tmp/d")); err == nil {
			os.Remove(filepath.Join(s.Root.Path, "tmp/d"))
			t.Fatalf("nnp=%v: mkdir was not denied", nnp)
		}
	}
	// An exec'd process gets the container's filter.
	e := newEnv(t)
	s := e.spec("sleep", "1000")
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EROFS))}}}
	e.runDetached(s)
	r := e.husk("exec", e.id, "mkdir", "/tmp/e")
	if r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
		t.Fatalf("exec under the container's filter: %v", r)
	}
}

// KILL_PROCESS kills with SIGSYS; defaultAction ERRNO with
// defaultErrnoRet applies to everything not allowed.
func TestSeccompKillAndDefaultErrno(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sh", "-c", "mkdir /tmp/k")
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActKillProcess}}}
	e.write(s)
	if r := e.husk("run", e.id); r.code != 128+int(unix.SIGSYS) {
		t.Fatalf("run with KILL_PROCESS on mkdir: %v, want %d", r, 128+int(unix.SIGSYS))
	}
	// defaultAction ERRNO with defaultErrnoRet: every syscall of the
	// host's table is allowed but mkdir/mkdirat, which get the default.
	e2 := newEnv(t)
	s = e2.spec("sh", "-c", "mkdir /tmp/k; echo rc=$?")
	allow := []string{}
	hdr, err := os.ReadFile("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
	if err != nil {
		t.Fatalf("the syscall table comes from libc6-dev's headers (make deps installs it): %v", err)
	}
	for _, line := range strings.Split(string(hdr), "\n") {
		if name, ok := strings.CutPrefix(line, "#define __NR_"); ok {
			name, _, _ = strings.Cut(name, " ")
			if name != "mkdir" && name != "mkdirat" {
				allow = append(allow, name)
			}
		}
	}
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(uint(unix.EXDEV)),
		Syscalls: []specs.LinuxSyscall{{Names: allow, Action: specs.ActAllow}}}
	e2.write(s)
	if r := e2.husk("run", e2.id); r.code != 0 || r.stdout != "rc=1\n" || !strings.Contains(r.stderr, "Invalid cross-device link") {
		t.Fatalf("run with default ERRNO(EXDEV): %v", r)
	}
}

// A filter that denies the runtime's own system calls (capset, prctl,
// setresuid, chdir...) still works: it is loaded right before exec.
func TestSeccompDeniesRuntimeSyscalls(t *testing.T) {
	e := newEnv(t)
	s := e.spec("echo", "ok")
	s.Process.NoNewPrivileges = true
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"capset", "prctl", "setresuid", "setresgid", "setgroups", "chdir", "keyctl", "close_range", "umask", "openat2"},
			Action: specs.ActErrno}}}
	e.write(s)
	if r := e.husk("run", e.id); r.code != 0 || r.stdout != "ok\n" {
		t.Fatalf("run: %v", r)
	}
}

func TestSeccompBadConfig(t *testing.T) {
	for _, c := range []struct {
		sc   specs.LinuxSeccomp
		want string
	}{
		{specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"}, `linux.seccomp.defaultAction: unknown action "SCMP_ACT_NOPE"`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"a"}, Action: specs.ActErrno}, {Names: []string{"b"}, Action: specs.ActErrno},
			{Names: []string{"c"}, Action: specs.ActErrno}, {Names: []string{"d"}, Action: "X"}}},
			`linux.seccomp.syscalls[3].action: unknown action "X"`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"kill"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 1, Op: "SCMP_CMP_SOME"}}}}},
			`linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_SOME"`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_Z80"}},
			`linux.seccomp.architectures[0]: unknown architecture "SCMP_ARCH_Z80"`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_X"}},
			`linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_X"`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir"}, Action: specs.ActNotify}}},
			`linux.seccomp.listenerPath: must be set`},
	} {
		e := newEnv(t)
		s := e.spec("true")
		s.Linux.Seccomp = &c.sc
		e.write(s)
		e.fails(c.want, "run", e.id)
		e.assertGone(e.id, 0)
	}
}

// seccompNotifListener serves listenerPath: each connection brings the
// container state and a listener fd; every intercepted syscall is answered
// with EXDEV (which nothing else would return).
type seccompNotifListener struct {
	path   string
	mu     sync.Mutex
	states []specs.ContainerProcessState
	errs   []error
}

func newSeccompNotifListener(t *testing.T) *seccompNotifListener {
	n := &seccompNotifListener{path: filepath.Join(t.TempDir(), "seccomp.sock")}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: n.path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.AcceptUnix()
			if err != nil {
				return
			}
			buf, oob := make([]byte, 64<<10), make([]byte, 64)
			nb, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
			conn.Close()
			var st specs.ContainerProcessState
			if err == nil {
				err = json.Unmarshal(buf[:nb], &st)
			}
			msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
			var fds []int
			if len(msgs) == 1 {
				fds, _ = unix.ParseUnixRights(&msgs[0])
			}
			if err == nil && len(fds) != 1 {
				err = fmt.Errorf("%d descriptors received", len(fds))
			}
			n.mu.Lock()
			n.states = append(n.states, st)
			if err != nil {
				n.errs = append(n.errs, err)
			}
			n.mu.Unlock()
			if err == nil {
				go answerNotifications(fds[0])
			}
		}
	}()
	return n
}

// answerNotifications answers every notification on fd with -EXDEV until
// the filter has no users left (RECV fails).
func answerNotifications(fd int) {
	defer unix.Close(fd)
	for {
		var req [80]byte // struct seccomp_notif
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req[0]))); e != 0 {
			if e == unix.EINTR {
				continue
			}
			return
		}
		var resp [24]byte // struct seccomp_notif_resp: id, val, error, flags
		copy(resp[0:8], req[0:8])
		errno := -int32(unix.EXDEV)
		*(*int32)(unsafe.Pointer(&resp[16])) = errno
		unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp[0])))
	}
}

func TestSeccompNotify(t *testing.T) {
	n := newSeccompNotifListener(t)
	e := newEnv(t)
	s := e.spec("sh", "-c", "mkdir /tmp/n; sleep 1000")
	s.Linux.Seccomp = &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow, ListenerPath: n.path, ListenerMetadata: "husk-meta",
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify}},
	}
	e.write(s)
	stderr := filepath.Join(t.TempDir(), "stderr")
	r := e.huskCmd(func(c *exec.Cmd) {
		f, _ := os.Create(stderr)
		c.Stderr = f // the container's stderr: husk's own goes there too, but run -d prints nothing
	}, "run", "-d", e.id)
	if r.code != 0 {
		t.Fatalf("run -d: %v", r)
	}
	pid := e.state(e.id).Pid
	waitFile(t, stderr, "mkdir: can't create directory '/tmp/n': Invalid cross-device link\n")
	// An exec'd process hands its own listener over.
	if r := e.husk("exec", e.id, "mkdir", "/tmp/m"); r.code == 0 || !strings.Contains(r.stderr, "Invalid cross-device link") {
		t.Fatalf("exec under a notify filter: %v", r)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.errs) != 0 || len(n.states) != 2 {
		t.Fatalf("listener got %d connections, errors %v", len(n.states), n.errs)
	}
	for i, st := range n.states {
		wantStatus := []specs.ContainerState{specs.StateCreating, specs.StateRunning}[i]
		if st.Version == "" || len(st.Fds) != 1 || st.Fds[0] != "seccompFd" || st.Metadata != "husk-meta" ||
			st.State.ID != e.id || st.State.Pid != pid || st.State.Status != wantStatus || st.State.Bundle != e.bundle {
			t.Errorf("listener connection %d: state %+v", i, st)
		}
		if i == 0 && st.Pid != pid || i == 1 && (st.Pid == pid || st.Pid <= 0) {
			t.Errorf("listener connection %d: process pid %d (init %d)", i, st.Pid, pid)
		}
	}
}

// statusCaps reads the capability lines of /proc/self/status as printed by
// grep in the container.
const capScript = "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status"

func capLines(inh, prm, eff, bnd, amb uint64) string {
	return fmt.Sprintf("CapInh:\t%016x\nCapPrm:\t%016x\nCapEff:\t%016x\nCapBnd:\t%016x\nCapAmb:\t%016x\n", inh, prm, eff, bnd, amb)
}

// A dropped capability stays dropped: root in the container cannot chown
// without CAP_CHOWN, in the init or an exec'd process, and the exact
// masks are the config's; exec --cap adds one.
func TestCapabilitiesDroppedStayDropped(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sleep", "1000")
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
	set := []string{"CAP_KILL", "CAP_SETGID", "CAP_SETUID"} // bits 5, 6, 7
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: set, Effective: set, Permitted: set}
	e.runDetached(s)
	want := capLines(0, 0xe0, 0xe0, 0xe0, 0)
	if r := e.husk("exec", e.id, "sh", "-c", capScript); r.code != 0 || r.stdout != want {
		t.Fatalf("exec: %v, want %q", r, want)
	}
	pid := e.state(e.id).Pid
	if got, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); !strings.Contains(string(got), strings.ReplaceAll(want, "CapAmb:\t0000000000000000\n", "")) {
		t.Fatalf("container init's capabilities:\n%s\nwant\n%s", got, want)
	}
	r := e.husk("exec", e.id, "sh", "-c", "touch /tmp/c && chown 1000 /tmp/c; id -u")
	if !strings.Contains(r.stderr, "Operation not permitted") || r.stdout != "0\n" {
		t.Fatalf("chown without CAP_CHOWN as root: %v, want Operation not permitted", r)
	}
	want = capLines(0, 0xe1, 0xe1, 0xe1, 0)
	if r := e.husk("exec", "--cap", "CAP_CHOWN", e.id, "sh", "-c", capScript); r.code != 0 || r.stdout != want {
		t.Fatalf("exec --cap CAP_CHOWN: %v, want %q", r, want)
	}
}

// Ambient capabilities reach a non-root user, in the init and exec.
func TestCapabilitiesAmbientForNonRoot(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sh", "-c", capScript+"; sleep 1000")
	set := []string{"CAP_NET_BIND_SERVICE"} // bit 10
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: set, Effective: set, Permitted: set, Inheritable: set, Ambient: set}
	s.Process.User = specs.User{UID: 1000, GID: 1000}
	e.runDetached(s)
	want := capLines(0x400, 0x400, 0x400, 0x400, 0x400)
	if r := e.husk("exec", e.id, "sh", "-c", capScript); r.code != 0 || r.stdout != want {
		t.Fatalf("exec: %v, want %q", r, want)
	}
	pid := e.state(e.id).Pid
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(strings.TrimSpace(want), "\n") {
		if !strings.Contains(string(status), line+"\n") {
			t.Errorf("container init's status lacks %q", line)
		}
	}
}

func apparmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.HasPrefix(string(b), "Y")
}

// A profile on a host without AppArmor is a clear error, and nothing is
// left behind.
func TestAppArmorProfileWithoutAppArmorFails(t *testing.T) {
	if apparmorEnabled() {
		t.Skip("SKIP: this host has AppArmor; the error path needs one without (TestKernelAppArmor covers the profile)")
	}
	e := newEnv(t)
	s := e.spec("true")
	s.Process.ApparmorProfile = "husk-test"
	e.write(s)
	e.fails(`process.apparmorProfile: profile "husk-test" requested but AppArmor is not enabled on this host`, "run", e.id)
	e.assertGone(e.id, 0)
	e.runDetached(e.spec("sleep", "1000"))
	e.fails("AppArmor is not enabled on this host", "exec", "--apparmor", "husk-test", e.id, "true")
}

func selinuxEnabled() bool {
	var st syscall.Statfs_t
	return syscall.Statfs("/sys/fs/selinux", &st) == nil && st.Type == 0xf97cff8c
}

// A label on a host without SELinux is ignored, as runc does.
func TestSELinuxLabelIgnoredWhenDisabled(t *testing.T) {
	if selinuxEnabled() {
		t.Skip("SKIP: this host has SELinux enabled")
	}
	e := newEnv(t)
	s := e.spec("sleep", "1000")
	s.Process.SelinuxLabel = "system_u:system_r:container_t:s0:c1,c2"
	s.Linux.MountLabel = "system_u:object_r:container_file_t:s0:c1,c2"
	e.runDetached(s)
	if r := e.husk("exec", "--process-label", "system_u:system_r:container_t:s0", e.id, "echo", "ok"); r.code != 0 || r.stdout != "ok\n" {
		t.Fatalf("exec with a label: %v", r)
	}
}

// TestKernelAppArmor loads a profile that denies writes under /tmp and
// checks that the container's process (and an exec'd one) runs confined.
func TestKernelAppArmor(t *testing.T) {
	parser, err := exec.LookPath("apparmor_parser")
	needKernel(t, apparmorEnabled() && err == nil, "AppArmor enabled and apparmor_parser")
	profile := filepath.Join(t.TempDir(), "husk-test")
	os.WriteFile(profile, []byte(`profile husk-test flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  signal,
  unix,
  deny /tmp/** w,
}
`), 0o644)
	if out, err := exec.Command(parser, "-r", profile).CombinedOutput(); err != nil {
		t.Fatalf("apparmor_parser -r: %v: %s", err, out)
	}
	defer exec.Command(parser, "-R", profile).Run()
	e := newEnv(t)
	s := e.spec("sh", "-c", "cat /proc/self/attr/current; touch /tmp/aa || echo denied; sleep 1000")
	s.Process.ApparmorProfile = "husk-test"
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
	e.write(s)
	out := filepath.Join(t.TempDir(), "out")
	r := e.huskCmd(func(c *exec.Cmd) {
		f, _ := os.Create(out)
		c.Stdout = f
	}, "run", "-d", e.id)
	if r.code != 0 {
		t.Fatalf("run -d: %v", r)
	}
	waitFile(t, out, "husk-test (enforce)\ndenied\n")
	if r := e.husk("exec", e.id, "sh", "-c", "cat /proc/self/attr/current; echo; touch /tmp/bb || echo denied"); !strings.Contains(r.stdout, "husk-test (enforce)") || !strings.Contains(r.stdout, "denied") {
		t.Fatalf("exec: %v", r)
	}
	// Without the profile the container is unconfined: the write works.
	if r := e.husk("exec", "--apparmor", "", e.id, "sh", "-c", "touch /tmp/cc && echo wrote"); r.stdout != "wrote\n" {
		t.Fatalf("exec without a profile: %v", r)
	}
}

// Every action and flag of the spec: TRACE without a tracer fails the
// call with ENOSYS, TRAP and KILL_THREAD deliver SIGSYS, LOG allows.
func TestSeccompActionsAndFlags(t *testing.T) {
	for _, c := range []struct {
		act  specs.LinuxSeccompAction
		code int
		want string
	}{
		{specs.ActTrace, 0, "Function not implemented"},
		{specs.ActTrap, 128 + int(unix.SIGSYS), ""},
		{specs.ActKillThread, 128 + int(unix.SIGSYS), ""},
		{specs.ActKill, 128 + int(unix.SIGSYS), ""},
		{specs.ActLog, 0, ""},
	} {
		e := newEnv(t)
		s := e.spec("mkdir", "/dev/shm/x")
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Flags:    []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, "SECCOMP_FILTER_FLAG_TSYNC"},
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: c.act}}}
		if c.act == specs.ActTrace {
			s.Process.Args = []string{"sh", "-c", "mkdir /dev/shm/x; exit 0"}
		}
		e.write(s)
		r := e.husk("run", e.id)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: run: %v, want exit %d and %q", c.act, r, c.code, c.want)
		}
	}
	// WAIT_KILLABLE_RECV works where husk's libseccomp and the kernel
	// support it (features says so), and fails clearly where not.
	e := newEnv(t)
	var f struct {
		Linux struct {
			Seccomp struct{ SupportedFlags []string } `json:"seccomp"`
		} `json:"linux"`
	}
	json.Unmarshal([]byte(e.must("features")), &f)
	s := e.spec("true")
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Flags:    []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv},
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}}}
	e.write(s)
	if strings.Contains(strings.Join(f.Linux.Seccomp.SupportedFlags, " "), string(specs.LinuxSeccompFlagWaitKillableRecv)) {
		e.must("run", e.id)
	} else {
		e.fails("linux.seccomp: flags[0] SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: not supported on this host", "run", e.id)
		e.assertGone(e.id, 0)
	}
}

// The filter is compiled before process.rlimits apply: with a low
// RLIMIT_AS (the OCI suite's process_rlimits sets 1 GiB) libseccomp could
// not allocate any more, and a big profile failed with ENOMEM.
func TestSeccompWithLowAddressSpaceLimit(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sh", "-c", "grep 'Max address space' /proc/self/limits; mkdir /tmp/x")
	// A profile of the size engines use, for three architectures: one
	// rule per (syscall, argument value), as many as the default profiles.
	names := []string{"getegid", "geteuid", "getgid", "getuid", "getpid", "getppid", "uname", "read", "write", "close",
		"openat", "fstat", "lseek", "mmap", "munmap", "brk", "ioctl", "pread64", "pwrite64", "readv"}
	var calls []specs.LinuxSyscall
	for v := uint64(0); v < 20; v++ {
		for _, n := range names {
			// Rules that differ from the default action are all
			// compiled; this argument value never occurs.
			calls = append(calls, specs.LinuxSyscall{Names: []string{n}, Action: specs.ActErrno,
				Args: []specs.LinuxSeccompArg{{Index: 5, Value: 0xdead0000 + v, Op: specs.OpEqualTo}}})
		}
	}
	calls = append(calls, specs.LinuxSyscall{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno})
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: calls,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}}
	// The suite's limits: a 9 GiB stack also sizes new threads' stacks.
	s.Process.Rlimits = []specs.POSIXRlimit{
		{Type: "RLIMIT_AS", Soft: 1 << 30, Hard: 2 << 30}, {Type: "RLIMIT_DATA", Soft: 5 << 30, Hard: 6 << 30},
		{Type: "RLIMIT_STACK", Soft: 9 << 30, Hard: 10 << 30}, {Type: "RLIMIT_NOFILE", Soft: 3000, Hard: 4000},
	}
	e.write(s)
	r := e.husk("run", e.id)
	if r.code == 0 || !strings.Contains(r.stdout, "1073741824") || !strings.Contains(r.stderr+r.stdout, "Operation not permitted") {
		t.Fatalf("run: %v; want the 1 GiB limit shown and mkdir refused by the filter", r)
	}
	e.assertGone(e.id, 0)
}
