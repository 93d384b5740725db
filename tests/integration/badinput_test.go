package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Each bad input gets a one-line error naming what is wrong, a non-zero
// exit, and leaves no state entry, process, mount or temp file.
func TestBadInputLeavesNothing(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(e *env, s *specs.Spec)
		raw    string // written instead of the spec when set
		args   []string
		want   string
	}{
		{name: "malformed json", raw: "{\"ociVersion\": \"1.0.2\",\n  \"process\": [}", want: "config.json"},
		{name: "empty args", mutate: func(e *env, s *specs.Spec) { s.Process.Args = nil }, want: "process.args"},
		{name: "unknown namespace", mutate: func(e *env, s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, want: "linux.namespaces"},
		{name: "missing rootfs", mutate: func(e *env, s *specs.Spec) { s.Root.Path = "/nonexistent/rootfs" }, want: "root.path"},
		{name: "missing binary", mutate: func(e *env, s *specs.Spec) { s.Process.Args = []string{"no-such-binary"} },
			want: "executable file not found in $PATH"},
		{name: "missing absolute binary", mutate: func(e *env, s *specs.Spec) { s.Process.Args = []string{"/bin/nope"} },
			want: "no such file or directory"},
		{name: "relative cwd", mutate: func(e *env, s *specs.Spec) { s.Process.Cwd = "relative" }, want: "process.cwd"},
		{name: "unknown capability", mutate: func(e *env, s *specs.Spec) {
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_BOGUS")
		}, want: "CAP_BOGUS"},
		{name: "bind source missing", mutate: func(e *env, s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: "/nonexistent/src", Options: []string{"bind"}})
		}, want: "/nonexistent/src"},
		{name: "bad id", args: []string{"create", "a/b"}, want: "invalid container id"},
		{name: "dotdot id", args: []string{"create", ".."}, want: "invalid container id"},
		{name: "no id", args: []string{"create"}, want: "requires exactly 1 argument"},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			e := newEnv(t)
			s := e.spec("true")
			if tc.mutate != nil {
				tc.mutate(e, s)
			}
			e.write(s)
			if tc.raw != "" {
				os.WriteFile(filepath.Join(e.bundle, "config.json"), []byte(tc.raw), 0o644)
			}
			args := tc.args
			if args == nil {
				args = []string{"create", e.id}
			}
			before := mountCount(t)
			tmpBefore := tmpEntries()
			e.fails(tc.want, args...)
			// run fails the same way and leaves nothing either.
			if tc.args == nil {
				e.fails(tc.want, "run", e.id)
			}
			e.assertGone(e.id, 0)
			if entries, _ := os.ReadDir(e.root); len(entries) != 0 {
				t.Errorf("state root not empty: %v", entries)
			}
			if after := mountCount(t); after != before {
				t.Errorf("mount count changed: %d -> %d", before, after)
			}
			if extra := newTmpEntries(tmpBefore); len(extra) != 0 {
				t.Errorf("new entries in /tmp: %v", extra)
			}
		})
	}
}

func TestExistingIDIsRefused(t *testing.T) {
	e := newEnv(t)
	e.write(e.spec("sleep", "60"))
	e.must("create", e.id)
	st := e.state(e.id)
	e.fails("container with id "+e.id+" already exists", "create", e.id)
	e.fails("already exists", "run", e.id)
	// The existing container is untouched.
	if st2 := e.state(e.id); st2.Pid != st.Pid || st2.Status != "created" {
		t.Fatalf("existing container changed: %+v -> %+v", st, st2)
	}
	e.must("delete", "--force", e.id)
	e.assertGone(e.id, st.Pid)
}

func TestLogFileJSON(t *testing.T) {
	e := newEnv(t)
	logPath := filepath.Join(t.TempDir(), "log.json")
	e.husk("--log", logPath, "--log-format", "json", "state", "no-such-container")
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("engines read errors from --log: %v", err)
	}
	var line struct{ Level, Msg, Time string }
	if err := json.Unmarshal(data, &line); err != nil || line.Level != "error" || !strings.Contains(line.Msg, "does not exist") {
		t.Fatalf("log line %q: %v", data, err)
	}
	if _, err := time.Parse(time.RFC3339Nano, line.Time); err != nil {
		t.Fatalf("log time %q: %v", line.Time, err)
	}
	e.fails(`invalid value "xml"`, "--log-format", "xml", "list")
}

func TestSpecCommand(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	e.must("spec", "--bundle", dir)
	var s specs.Spec
	data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if s.Root.Path != "rootfs" || !s.Process.Terminal || s.Process.Args[0] != "sh" || len(s.Mounts) < 6 {
		t.Fatalf("spec: %+v", s)
	}
	e.fails("exists", "spec", "--bundle", dir)
	rdir := t.TempDir()
	e.must("spec", "--rootless", "--bundle", rdir)
	var r specs.Spec
	data, _ = os.ReadFile(filepath.Join(rdir, "config.json"))
	json.Unmarshal(data, &r)
	hasUser := false
	for _, ns := range r.Linux.Namespaces {
		hasUser = hasUser || ns.Type == specs.UserNamespace
	}
	if !hasUser || len(r.Linux.UIDMappings) != 1 {
		t.Fatalf("rootless spec lacks a user namespace: %+v", r.Linux)
	}
}

// The binary init runs from cannot be written through /proc/<pid>/exe
// (CVE-2019-5736), with overlayfs and with the memfd fallback.
func TestInitBinaryIsWriteProtected(t *testing.T) {
	for _, mode := range []string{"overlayfs", "memfd"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			e.write(e.spec("true"))
			if mode == "memfd" {
				t.Setenv("HUSK_EXE_PROTECTION", "memfd")
			}
			e.must("create", e.id)
			st := e.state(e.id)
			exe := "/proc/" + strconv.Itoa(st.Pid) + "/exe"
			target, _ := os.Readlink(exe)
			f, err := os.OpenFile(exe, os.O_WRONLY, 0)
			if err == nil {
				_, err = f.Write([]byte("x"))
				f.Close()
			}
			if err == nil {
				t.Fatalf("wrote to the init's binary %s", target)
			}
			var stExe, stHusk unix.Stat_t
			unix.Stat(exe, &stExe)
			unix.Stat(huskBin, &stHusk)
			if stExe.Dev == stHusk.Dev && stExe.Ino == stHusk.Ino {
				t.Fatalf("init runs the host's husk binary itself (%s)", target)
			}
			if mode == "memfd" && !strings.HasPrefix(target, "/memfd:") {
				t.Fatalf("memfd mode: exe is %q", target)
			}
			e.must("delete", "--force", e.id)
		})
	}
}

// mountCount counts the host's mounts that could be ours: those under the
// test rootfs or a test temp dir (other programs on the machine may mount
// elsewhere meanwhile).
func mountCount(t *testing.T) int {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, rootfsTemplate(t)) || strings.Contains(line, os.TempDir()+"/Test") {
			n++
		}
	}
	return n
}

func tmpEntries() map[string]bool {
	m := map[string]bool{}
	entries, _ := os.ReadDir(os.TempDir())
	for _, e := range entries {
		m[e.Name()] = true
	}
	return m
}

// newTmpEntries lists what appeared in /tmp that husk could have made
// (go test's own and other processes' files are not ours).
func newTmpEntries(before map[string]bool) []string {
	var out []string
	for name := range tmpEntries() {
		if !before[name] && strings.Contains(name, "husk") && !strings.HasPrefix(name, "husk-it-") {
			out = append(out, name)
		}
	}
	return out
}
