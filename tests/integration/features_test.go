package integration

import (
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// `husk features` parses as the runtime-spec's Features and claims what
// this host has, no more.
func TestFeaturesMatchHost(t *testing.T) {
	e := newEnv(t)
	out := e.must("features")
	var f features.Features
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("features: %v:\n%s", err, out)
	}
	if f.OCIVersionMin != "1.0.0" || f.OCIVersionMax != specs.Version || f.Linux == nil {
		t.Fatalf("features: versions %q..%q, linux %v", f.OCIVersionMin, f.OCIVersionMax, f.Linux)
	}
	l := f.Linux
	for typ, file := range procNSName {
		_, err := os.Lstat("/proc/self/ns/" + file)
		if slices.Contains(l.Namespaces, string(typ)) != (err == nil) {
			t.Errorf("namespace %s: listed %v, host has it %v", typ, slices.Contains(l.Namespaces, string(typ)), err == nil)
		}
	}
	data, _ := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	last, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if len(l.Capabilities) != min(last+1, 41) || l.Capabilities[0] != "CAP_CHOWN" {
		t.Errorf("capabilities: %d listed, host has %d", len(l.Capabilities), last+1)
	}
	status, _ := os.ReadFile("/proc/self/status")
	hostSeccomp := strings.Contains(string(status), "\nSeccomp:")
	if l.Seccomp == nil || l.Seccomp.Enabled == nil || *l.Seccomp.Enabled != hostSeccomp {
		t.Fatalf("seccomp: %+v, host has seccomp %v", l.Seccomp, hostSeccomp)
	}
	if hostSeccomp {
		for _, a := range []string{"SCMP_ACT_ERRNO", "SCMP_ACT_ALLOW", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_NOTIFY"} {
			if !slices.Contains(l.Seccomp.Actions, a) {
				t.Errorf("seccomp actions lack %s (this kernel has it): %v", a, l.Seccomp.Actions)
			}
		}
		if !slices.Contains(l.Seccomp.Archs, "SCMP_ARCH_X86_64") || len(l.Seccomp.Operators) != 7 {
			t.Errorf("seccomp archs %v, operators %v", l.Seccomp.Archs, l.Seccomp.Operators)
		}
		for _, fl := range l.Seccomp.SupportedFlags {
			if !slices.Contains(l.Seccomp.KnownFlags, fl) {
				t.Errorf("supported flag %s is not a known flag", fl)
			}
		}
	}
	if l.Apparmor == nil || *l.Apparmor.Enabled != apparmorEnabled() {
		t.Errorf("apparmor: %+v, host %v", l.Apparmor, apparmorEnabled())
	}
	if l.Selinux == nil || *l.Selinux.Enabled != selinuxEnabled() {
		t.Errorf("selinux: %+v, host %v", l.Selinux, selinuxEnabled())
	}
	// Claimed cgroup versions must be the host's.
	if c := l.Cgroup; c == nil || (c.V2 != nil && *c.V2 && !cgroup2Only()) || (c.V1 != nil && *c.V1 && cgroup2Only()) {
		t.Errorf("cgroup: %+v, host cgroup v2 only: %v", c, cgroup2Only())
	}
	if len(f.Hooks) != 6 {
		t.Errorf("hooks %v: husk runs the six kinds of runtime-spec 1.3", f.Hooks)
	}
	if c := l.Cgroup; c == nil || c.V2 == nil || c.V1 == nil || *c.V2 != cgroup2Only() || *c.V1 == cgroup2Only() {
		t.Errorf("cgroup %+v: host cgroup v2 only: %v", c, cgroup2Only())
	}
	e.fails(`"features" requires exactly 0 argument(s)`, "features", "x")
}

// The static binary (libseccomp included) runs where there are no shared
// libraries at all: inside a busybox container.
func TestStaticBinaryRunsWithoutLibraries(t *testing.T) {
	e := newEnv(t)
	s := e.spec("/husk", "features")
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/husk", Type: "bind", Source: huskBin, Options: []string{"bind", "ro"}})
	e.write(s)
	r := e.husk("run", e.id)
	var f features.Features
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &f) != nil || f.Linux == nil || f.Linux.Seccomp == nil || !*f.Linux.Seccomp.Enabled {
		t.Fatalf("husk features in a container without libraries: %v", r)
	}
	os.Remove(s.Root.Path + "/husk")
}
