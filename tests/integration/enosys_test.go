package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// rawSyscall is a static program that calls each syscall number it is
// given (all arguments zero) and prints "nr:errno" for it (busybox cannot
// call a syscall by number).
const rawSyscallSrc = `package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

func main() {
	for _, a := range os.Args[1:] {
		nr, _ := strconv.Atoi(a)
		_, _, errno := syscall.RawSyscall6(uintptr(nr), 0, 0, 0, 0, 0, 0)
		fmt.Printf("%d:%d\n", nr, int(errno))
	}
}
`

var rawSyscallOnce sync.Once
var rawSyscallBin string

func rawSyscall(t *testing.T) string {
	rawSyscallOnce.Do(func() {
		dir, err := os.MkdirTemp("", "husk-it-rawsyscall-")
		if err != nil {
			panic(err)
		}
		src := filepath.Join(dir, "main.go")
		os.WriteFile(src, []byte(rawSyscallSrc), 0o644)
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "raw-syscall"), src)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GO111MODULE=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			panic("build raw-syscall helper: " + err.Error() + ": " + string(out))
		}
		rawSyscallBin = filepath.Join(dir, "raw-syscall")
	})
	return rawSyscallBin
}

// hostSyscalls lists the x86_64 syscall names of libc6-dev's table whose
// number is at most max, without the ones in except.
func hostSyscalls(t *testing.T, max int, except ...string) []string {
	hdr, err := os.ReadFile("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
	if err != nil {
		t.Fatalf("the syscall table comes from libc6-dev's headers (make deps installs it): %v", err)
	}
	var names []string
	for _, line := range strings.Split(string(hdr), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "#define" || !strings.HasPrefix(f[1], "__NR_") {
			continue
		}
		name := strings.TrimPrefix(f[1], "__NR_")
		if nr, err := strconv.Atoi(f[2]); err == nil && nr <= max && !slices.Contains(except, name) {
			names = append(names, name)
		}
	}
	return names
}

// With a deny-by-default profile, a syscall newer than every syscall the
// profile names gets ENOSYS (so libc falls back, as on an older kernel),
// and so does clone3 when the profile does not name it; an older unnamed
// syscall gets the default action. Init and exec'd processes alike.
func TestSeccompUnknownSyscallsGetENOSYS(t *testing.T) {
	const (
		acct        = "163:1"  // older, not named: EPERM (the default)
		clone3      = "435:38" // not named: ENOSYS
		epollPwait2 = "441:38" // newer than faccessat2 (439), the last named: ENOSYS
	)
	e := newEnv(t)
	s := e.spec("/raw-syscall", "163", "435", "441")
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/raw-syscall", Type: "bind", Source: rawSyscall(t), Options: []string{"bind", "ro"}})
	s.Linux.Seccomp = &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(1),
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: hostSyscalls(t, 439, "acct", "clone3"), Action: specs.ActAllow},
		},
	}
	e.write(s)
	want := strings.Join([]string{acct, clone3, epollPwait2}, "\n") + "\n"
	if r := e.husk("run", e.id); r.code != 0 || r.stdout != want {
		t.Fatalf("run: %v, want stdout %q", r, want)
	}

	// exec'd processes get the same program; a profile naming clone3
	// keeps its own action for it.
	e2 := newEnv(t)
	s.Process.Args = []string{"sleep", "1000"}
	s.Linux.Seccomp.Syscalls = append(s.Linux.Seccomp.Syscalls,
		specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: uintp(13)})
	e2.runDetached(s)
	want = strings.Join([]string{acct, "435:13", epollPwait2}, "\n") + "\n"
	if r := e2.husk("exec", e2.id, "/raw-syscall", "163", "435", "441"); r.code != 0 || r.stdout != want {
		t.Fatalf("exec: %v, want stdout %q", r, want)
	}

	// A permissive default gets no stub: the kernel answers for itself
	// (epoll_pwait2 with fd 0 is EBADF or EINVAL, not ENOSYS).
	e3 := newEnv(t)
	s = e3.spec("/raw-syscall", "441")
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/raw-syscall", Type: "bind", Source: rawSyscall(t), Options: []string{"bind", "ro"}})
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"acct"}, Action: specs.ActErrno}}}
	e3.write(s)
	if r := e3.husk("run", e3.id); r.code != 0 || r.stdout == epollPwait2+"\n" || !strings.HasPrefix(r.stdout, "441:") {
		t.Fatalf("run with default ALLOW: %v", r)
	}
}
