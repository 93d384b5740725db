package integration

import (
	"os"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cgroup2Only reports whether /sys/fs/cgroup is a pure cgroup v2 mount.
func cgroup2Only() bool {
	var st syscall.Statfs_t
	return syscall.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == 0x63677270
}

// On a cgroup v2 host the container's /sys/fs/cgroup is one cgroup2
// mount: a fresh one showing the namespace root with a cgroup namespace,
// a bind of its own cgroup without. (This machine is v1 hybrid: the
// kernel lane runs it.)
func TestKernelCgroup2View(t *testing.T) {
	needKernel(t, cgroup2Only(), "a cgroup v2 (unified) host")
	for _, withNS := range []bool{true, false} {
		e := newEnv(t)
		s := e.spec("sh", "-c", "stat -f -c %t /sys/fs/cgroup; cat /sys/fs/cgroup/cgroup.controllers; cat /proc/self/cgroup; grep ' /sys/fs/cgroup ' /proc/self/mountinfo | awk '{print $4}'")
		// husk spec adds a cgroup namespace on a v2 host (as runc does):
		// set it explicitly either way.
		setCgroupNS(s, withNS)
		e.write(s)
		r := e.husk("run", e.id)
		if r.code != 0 {
			t.Fatalf("cgroupns=%v: run: %v", withNS, r)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) < 4 || lines[0] != "63677270" || !strings.Contains(lines[1], "memory") {
			t.Fatalf("cgroupns=%v: /sys/fs/cgroup is not a cgroup2 view with controllers: %q", withNS, r.stdout)
		}
		if withNS && (lines[2] != "0::/" || lines[3] != "/") {
			t.Fatalf("cgroup namespace: %q, want 0::/ and a mount of the namespace root", r.stdout)
		}
		if !withNS {
			own := strings.TrimSpace(strings.TrimPrefix(lines[2], "0::"))
			if lines[3] != own {
				t.Fatalf("no cgroup namespace: mount root %q, want the container's own cgroup %q", lines[3], own)
			}
		}
	}
}

// User namespaces on the lane's kernel (Debian's 6.1), as on this host.
func TestKernelUserNamespace(t *testing.T) {
	_, err := os.Stat("/proc/self/ns/user")
	needKernel(t, err == nil, "user namespaces")
	e := newEnv(t)
	s := e.spec("sh", "-c", "id -u; cat /proc/self/uid_map; touch /tmp/x && stat -c %u /tmp/x")
	userNSSpec(s)
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
	e.write(s)
	r := e.husk("run", e.id)
	if f := strings.Fields(r.stdout); r.code != 0 || len(f) != 5 || f[0] != "0" || f[2] != "100000" || f[4] != "0" {
		t.Fatalf("run in a user namespace: %v", r)
	}
}
