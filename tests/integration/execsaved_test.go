package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// exec takes the process attributes from the config as it was at create:
// editing or removing the bundle's config.json afterwards changes nothing.
func TestExecUsesConfigFromCreate(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sleep", "1000")
	s.Process.Env = append(s.Process.Env, "WHICH=original")
	s.Process.Capabilities.Bounding = []string{"CAP_KILL"}
	s.Process.Capabilities.Effective = []string{"CAP_KILL"}
	s.Process.Capabilities.Permitted = []string{"CAP_KILL"}
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EXDEV))}}}
	e.write(s)
	e.must("create", e.id)
	e.must("start", e.id)

	check := func(when string) {
		t.Helper()
		r := e.husk("exec", e.id, "sh", "-c", `echo $WHICH; grep CapBnd /proc/self/status; mkdir /tmp/x`)
		if r.code == 0 || r.stdout != "original\nCapBnd:\t0000000000000020\n" || !strings.Contains(r.stderr, "Invalid cross-device link") {
			t.Fatalf("exec %s: %v", when, r)
		}
	}
	check("as created")

	edited := *s
	edited.Process = &specs.Process{Args: []string{"sh"}, Cwd: "/", Env: []string{"WHICH=edited"}, User: s.Process.User}
	edited.Linux.Seccomp = nil
	e.write(&edited)
	check("after config.json was edited")

	if err := os.Remove(filepath.Join(e.bundle, "config.json")); err != nil {
		t.Fatal(err)
	}
	check("after config.json was removed")
}

// An exec'd process joins the container's session keyring, or, when the
// container was created with --no-new-keyring, stays in its caller's as
// the init did.
func TestExecSessionKeyring(t *testing.T) {
	for _, noNew := range []bool{false, true} {
		e := newEnv(t)
		s := e.spec("sleep", "1000")
		// /proc/keys is masked by default; this test needs to read it.
		s.Linux.MaskedPaths = slices.DeleteFunc(s.Linux.MaskedPaths, func(p string) bool { return p == "/proc/keys" })
		e.write(s)
		args := []string{"create", e.id}
		if noNew {
			args = []string{"create", "--no-new-keyring", e.id}
		}
		e.must(args...)
		e.must("start", e.id)
		r := e.husk("exec", e.id, "cat", "/proc/keys")
		if r.code != 0 || strings.Contains(r.stdout, "_ses."+e.id) == noNew {
			t.Fatalf("--no-new-keyring=%v: exec: %v; want the keyring _ses.%s only without the flag", noNew, r, e.id)
		}
	}
}

// process.execCPUAffinity.initial also applies to an exec'd process (with
// no "final", it keeps it: the kernel keeps a requested mask through the
// cgroup join).
func TestExecCPUAffinityInitial(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs two CPUs to tell a pinned process from an unpinned one")
	}
	e := newEnv(t)
	s := e.spec("sleep", "1000")
	s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: "1"}
	e.runDetached(s)
	r := e.husk("exec", e.id, "grep", "Cpus_allowed_list", "/proc/self/status")
	if r.code != 0 || r.stdout != "Cpus_allowed_list:\t1\n" {
		t.Fatalf("exec: %v, want the initial affinity", r)
	}
	// With -p and no affinity in the process, none is set.
	p := *s.Process
	p.Args = []string{"grep", "Cpus_allowed_list", "/proc/self/status"}
	p.ExecCPUAffinity = nil
	data, _ := json.Marshal(&p)
	pf := filepath.Join(t.TempDir(), "process.json")
	os.WriteFile(pf, data, 0o644)
	if r := e.husk("exec", "-p", pf, e.id); r.code != 0 || r.stdout == "Cpus_allowed_list:\t1\n" {
		t.Fatalf("exec -p without affinity: %v", r)
	}
}

// exec joins the container's cgroup as recorded at create (as runc), not
// wherever its init has moved since.
func TestExecJoinsRecordedCgroup(t *testing.T) {
	if cgroup2Only() {
		t.Skip("SKIP: moves the init within a cgroup v1 pids hierarchy; TestKernelExecCgroup2 covers v2")
	}
	e := newEnv(t)
	pid := e.runDetached(e.spec("sleep", "1000"))
	pidsPath := pidsCgroup(t, pid)
	sub := filepath.Join("/sys/fs/cgroup/pids", pidsPath, "moved")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	defer func() {
		e.must("delete", "--force", e.id) // the sub-cgroup must be empty to go
		os.Remove(sub)
	}()
	if err := os.WriteFile(filepath.Join(sub, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		t.Fatal(err)
	}
	execPid := e.execDetached("sleep", "1000")
	cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", execPid))
	if execPid <= 0 || !strings.Contains(string(cg), ":pids:"+pidsPath+"\n") {
		t.Fatalf("exec'd process's cgroups:\n%s\nwant the container's pids cgroup %s", cg, pidsPath)
	}
}
