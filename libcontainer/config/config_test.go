package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// bundle makes a bundle directory with a rootfs and returns it.
func bundle(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func marshal(t *testing.T, s *specs.Spec) []byte {
	t.Helper()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDefaultSpecIsValid(t *testing.T) {
	for _, rootless := range []bool{false, true} {
		dir := bundle(t)
		c, err := Parse(marshal(t, Default(rootless)), dir)
		if err != nil {
			t.Fatalf("rootless=%v: default spec rejected: %v", rootless, err)
		}
		if c.Rootfs != filepath.Join(dir, "rootfs") || c.Bundle != dir {
			t.Fatalf("rootfs %q bundle %q", c.Rootfs, c.Bundle)
		}
	}
}

func TestRootlessDefault(t *testing.T) {
	s := Default(true)
	if s.Linux.Resources != nil {
		t.Error("rootless spec keeps cgroup resources")
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			t.Error("rootless spec keeps a network namespace")
		}
	}
	for _, m := range s.Mounts {
		for _, o := range m.Options {
			if strings.HasPrefix(o, "gid=") {
				t.Errorf("mount %s keeps %s", m.Destination, o)
			}
		}
		if m.Destination == "/sys" && m.Type == "sysfs" {
			t.Error("rootless spec mounts a fresh sysfs")
		}
	}
	if got := s.Linux.UIDMappings; len(got) != 1 || got[0].HostID != uint32(os.Geteuid()) || got[0].ContainerID != 0 {
		t.Errorf("uid map %+v", got)
	}
}

func TestParseErrorsNameTheField(t *testing.T) {
	neg := -1001
	zero := 0
	cases := []parseErrorCase{
		{"no process", func(s *specs.Spec) { s.Process = nil }, "process: must be set"},
		{"empty args", func(s *specs.Spec) { s.Process.Args = nil }, "process.args: must not be empty"},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "tmp" }, `process.cwd: "tmp" is not an absolute path`},
		{"unknown cap", func(s *specs.Spec) { s.Process.Capabilities.Ambient = []string{"CAP_BOGUS"} }, `process.capabilities.ambient[0]: unknown capability "CAP_BOGUS"`},
		{"unknown rlimit", func(s *specs.Spec) { s.Process.Rlimits[0].Type = "RLIMIT_BOGUS" }, `process.rlimits[0].type: unknown rlimit "RLIMIT_BOGUS"`},
		{"duplicate rlimit", func(s *specs.Spec) { s.Process.Rlimits = append(s.Process.Rlimits, s.Process.Rlimits[0]) }, "process.rlimits[1].type: RLIMIT_NOFILE is set twice"},
		{"soft above hard", func(s *specs.Spec) { s.Process.Rlimits[0].Soft = 2048 }, "process.rlimits[0]: soft limit 2048 is above hard limit 1024"},
		{"oom score", func(s *specs.Spec) { s.Process.OOMScoreAdj = &neg }, "process.oomScoreAdj: -1001"},
		{"bad env", func(s *specs.Spec) { s.Process.Env = []string{"NOEQUALS"} }, "process.env[0]"},
		{"no root", func(s *specs.Spec) { s.Root = nil }, "root.path: must be set"},
		{"missing root", func(s *specs.Spec) { s.Root.Path = "nope" }, "root.path: stat "},
		{"bad version", func(s *specs.Spec) { s.Version = "2.0.0" }, `ociVersion: unsupported version "2.0.0"`},
		{"unknown ns", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, `linux.namespaces[5].type: unknown namespace type "bogus"`},
		{"duplicate ns", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "pid"})
		}, `linux.namespaces[5].type: namespace "pid" is listed twice`},
		{"relative ns path", func(s *specs.Spec) { s.Linux.Namespaces[0].Path = "proc/1/ns/pid" }, "linux.namespaces[0].path"},
		{"hostname without uts", func(s *specs.Spec) { s.Linux.Namespaces = s.Linux.Namespaces[:3] }, "hostname: setting it needs a private uts namespace"},
		{"maps without userns", func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
		}, "linux.uidMappings: id mappings need a user namespace"},
		{"userns without maps", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user"})
		}, "needs uidMappings and gidMappings"},
		{"zero-size map", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user"})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 0}}
		}, "linux.gidMappings[0].size"},
		{"offsets without timens", func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 1}}
		}, "linux.timeOffsets: offsets need a new time namespace"},
		{"unknown clock", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "time"})
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"realtime": {Secs: 1}}
		}, `unknown clock "realtime"`},
		{"propagation", func(s *specs.Spec) { s.Linux.RootfsPropagation = "sideways" }, `linux.rootfsPropagation: unknown value "sideways"`},
		{"relative masked path", func(s *specs.Spec) { s.Linux.ReadonlyPaths = []string{"proc"} }, "linux.readonlyPaths[0]"},
		{"relative mount dest", func(s *specs.Spec) { s.Mounts[1].Destination = "dev" }, `mounts[1].destination: "dev" is not an absolute path`},
		{"typeless mount", func(s *specs.Spec) { s.Mounts[0].Type = "" }, "mounts[0].type: must be set"},
		{"sourceless bind", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Options: []string{"rbind"}})
		}, "mounts[7].source"},
		{"device type", func(s *specs.Spec) { s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "q"}} }, `linux.devices[0].type: unknown device type "q"`},
		{"device path", func(s *specs.Spec) { s.Linux.Devices = []specs.LinuxDevice{{Path: "dev/x", Type: "c"}} }, "linux.devices[0].path"},
		{"hook path", func(s *specs.Spec) { s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "true"}}} }, `hooks.poststop[0].path: "true"`},
		{"hook timeout", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "/bin/true", Timeout: &zero}}}
		}, "hooks.prestart[0].timeout"},
	}
	expectParseErrors(t, cases)
}

func TestJSONErrorsGivePosition(t *testing.T) {
	dir := bundle(t)
	_, err := Parse([]byte("{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": [}"), dir)
	if err == nil || !strings.Contains(err.Error(), "config.json: line 3, column") {
		t.Fatalf("syntax error: %v", err)
	}
	_, err = Parse([]byte("{\n\"process\": {\"args\": \"sh\"}}"), dir)
	if err == nil || !strings.Contains(err.Error(), "process.args") || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("type error: %v", err)
	}
}

func TestUnknownKeysAreAllowed(t *testing.T) {
	data := marshal(t, Default(false))
	data = append([]byte(`{"futureField": {"x": 1},`), data[1:]...)
	if _, err := Parse(data, bundle(t)); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	dir := bundle(t)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Fatalf("missing config.json: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), marshal(t, Default(false)), 0o644)
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	os.Chdir(dir)
	c, err := Load(".")
	if err != nil || c.Bundle != dir {
		t.Fatalf("relative bundle: %+v, %v", c, err)
	}
}

func TestValidateID(t *testing.T) {
	for _, id := range []string{"a", "abc-123_x.y+z", "A.B"} {
		if err := ValidateID(id); err != nil {
			t.Errorf("%q refused: %v", id, err)
		}
	}
	for _, id := range []string{"", ".", "..", "a/b", "../x", "a b", "a\x00b", "é"} {
		if err := ValidateID(id); err == nil || !strings.Contains(err.Error(), "invalid container id") {
			t.Errorf("%q: %v", id, err)
		}
	}
}

func TestParseMountOptions(t *testing.T) {
	o := ParseMountOptions([]string{"rbind", "ro", "nosuid", "rw", "rslave", "private", "rro", "rnoexec", "rexec", "idmap", "tmpcopyup", "mode=755", "size=1k"})
	if o.Flags != unix.MS_BIND|unix.MS_REC|unix.MS_NOSUID {
		t.Errorf("flags %#x", o.Flags)
	}
	if o.ClearFlags != unix.MS_RDONLY {
		t.Errorf("clear flags %#x", o.ClearFlags)
	}
	if len(o.Propagation) != 2 || o.Propagation[0] != unix.MS_SLAVE|unix.MS_REC || o.Propagation[1] != unix.MS_PRIVATE {
		t.Errorf("propagation %v", o.Propagation)
	}
	if o.AttrSet != unix.MOUNT_ATTR_RDONLY || o.AttrClr != unix.MOUNT_ATTR_NOEXEC {
		t.Errorf("attrs set %#x clr %#x", o.AttrSet, o.AttrClr)
	}
	if !o.IDMap || o.RecursiveIDMap || !o.TmpCopyUp || o.Data != "mode=755,size=1k" {
		t.Errorf("%+v", o)
	}
	if r := ParseMountOptions([]string{"ridmap"}); !r.IDMap || !r.RecursiveIDMap {
		t.Errorf("ridmap: %+v", r)
	}
}

func TestTables(t *testing.T) {
	if v, ok := CapabilityValue("CAP_SYS_ADMIN"); !ok || v != 21 {
		t.Errorf("CAP_SYS_ADMIN = %d", v)
	}
	if v, ok := CapabilityValue("CAP_CHECKPOINT_RESTORE"); !ok || v != 40 {
		t.Errorf("CAP_CHECKPOINT_RESTORE = %d", v)
	}
	if _, ok := CapabilityValue("sys_admin"); ok {
		t.Error("lower-case name accepted")
	}
	if v, ok := RlimitType("RLIMIT_NOFILE"); !ok || v != unix.RLIMIT_NOFILE {
		t.Error("RLIMIT_NOFILE")
	}
	if f, err := NamespaceFlag(specs.TimeNamespace); err != nil || f != unix.CLONE_NEWTIME {
		t.Error("time namespace")
	}
	if _, err := NamespaceFlag("bogus"); err == nil {
		t.Error("bogus namespace accepted")
	}
	if f, ok := PropagationFlag("rshared"); !ok || f != unix.MS_SHARED|unix.MS_REC {
		t.Error("rshared")
	}
}

// parseErrorCase is a config that Parse must refuse: the default spec
// changed by mutate, and a piece of the one-line error.
type parseErrorCase struct {
	name   string
	mutate func(s *specs.Spec)
	want   string
}

// expectParseErrors checks that Parse refuses each case with one line
// that starts with "config.json: " and contains its want.
func expectParseErrors(t *testing.T, cases []parseErrorCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			s := Default(false)
			tc.mutate(s)
			_, err := Parse(marshal(t, s), bundle(t))
			if err == nil {
				t.Fatalf("accepted; want error containing %q", tc.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "config.json: ") || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q; want one line starting with config.json: and containing %q", msg, tc.want)
			}
		})
	}
}
