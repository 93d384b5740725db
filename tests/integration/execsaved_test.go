package integration

import (
	"os"
	"path/filepath"
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
