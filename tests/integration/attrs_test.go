package integration

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Every process attribute, observed from inside the container.
func TestProcessAttributesObserved(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sh", "-c", `echo "oom $(cat /proc/self/oom_score_adj)"; echo "umask $(umask)"; echo "groups $(id -G)";
		echo "home $HOME"; echo "arch $(uname -m)"; ionice -p $$; grep Cpus_allowed_list /proc/self/status;
		echo "policy $(cut -d' ' -f41 /proc/self/stat) nice $(cut -d' ' -f19 /proc/self/stat)";
		for k in kernel/shmmax kernel/domainname net/ipv4/ip_forward fs/mqueue/msg_max; do echo "$k=$(cat /proc/sys/$k)"; done;
		echo "domain $(cat /proc/sys/kernel/domainname)"`)
	oom := 500
	umask := uint32(0o027)
	s.Process.OOMScoreAdj = &oom
	s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{2000, 3000}, Umask: &umask}
	s.Process.Env = []string{"PATH=/bin"} // no HOME: taken from /etc/passwd
	s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 5}
	s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 6}
	s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: "0", Final: "0"}
	s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
	s.Linux.Sysctl = map[string]string{
		"kernel.shmmax": "123456789", "net.ipv4.ip_forward": "1", "fs.mqueue.msg_max": "77",
	}
	s.Domainname = "husk.example"
	e.write(s)
	r := e.husk("run", e.id)
	if r.code != 0 {
		t.Fatalf("run: %v", r)
	}
	arch := "i686"
	if runtime.GOARCH != "amd64" {
		arch = "" // only checked where LINUX32 has a known name
	}
	for _, want := range []string{"oom 500\n", "umask 0027\n", "groups 1000 2000 3000\n", "home /home/user\n",
		"arch " + arch, "best-effort: prio 6", "Cpus_allowed_list:\t0\n", "policy 3 nice 5\n",
		"kernel/shmmax=123456789\n", "net/ipv4/ip_forward=1\n", "fs/mqueue/msg_max=77\n", "domain husk.example\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	// The host's values are untouched.
	if data, _ := os.ReadFile("/proc/sys/kernel/shmmax"); strings.TrimSpace(string(data)) == "123456789" {
		t.Errorf("kernel.shmmax changed on the host")
	}
}

// HOME from the environment wins; a uid absent from /etc/passwd gets "/".
func TestHomeFromEnvOrDefault(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sh", "-c", "echo $HOME")
	s.Process.Env = []string{"PATH=/bin", "HOME=/custom"}
	e.write(s)
	if r := e.husk("run", e.id); r.code != 0 || r.stdout != "/custom\n" {
		t.Fatalf("HOME from env: %v", r)
	}
	e2 := newEnv(t)
	s2 := e2.spec("sh", "-c", "echo $HOME")
	s2.Process.Env = []string{"PATH=/bin"}
	s2.Process.User = specs.User{UID: 4242, GID: 4242}
	e2.write(s2)
	if r := e2.husk("run", e2.id); r.code != 0 || r.stdout != "/\n" {
		t.Fatalf("HOME of a uid without passwd entry: %v", r)
	}
}

// An /etc/passwd that is a fifo must not hang init.
func TestPasswdFifoDoesNotHang(t *testing.T) {
	e := newEnv(t)
	rootfs := copyRootfs(t)
	os.Remove(filepath.Join(rootfs, "etc", "passwd"))
	if err := mkfifo(filepath.Join(rootfs, "etc", "passwd")); err != nil {
		t.Fatal(err)
	}
	s := e.spec("sh", "-c", "echo $HOME")
	s.Root.Path = rootfs
	s.Process.Env = []string{"PATH=/bin"}
	e.write(s)
	if r := e.husk("run", e.id); r.code != 0 || r.stdout != "/\n" {
		t.Fatalf("run: %v", r)
	}
}

// Every bad value is refused before anything exists, naming the field.
func TestBadProcessAttributesRefused(t *testing.T) {
	cases := []struct {
		name, want string
		edit       func(*specs.Spec)
	}{
		{"sysctl-host", "linux.sysctl.kernel.panic: not allowed", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.panic": "1"} }},
		{"sysctl-net-host", "linux.sysctl.net.ipv4.ip_forward: needs the container's own network namespace", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
			s.Linux.Namespaces = dropNS(s.Linux.Namespaces, specs.NetworkNamespace)
		}},
		{"sysctl-ipc-host", "linux.sysctl.kernel.shmmax: needs the container's own ipc namespace", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"kernel.shmmax": "1"}
			s.Linux.Namespaces = dropNS(s.Linux.Namespaces, specs.IPCNamespace)
		}},
		{"sysctl-dotdot", "linux.sysctl.net...x: invalid sysctl name", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"net...x": "1"} }},
		{"sysctl-missing", "linux.sysctl.net.ipv4.nonexistent: open /proc/sys/net/ipv4/nonexistent", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.nonexistent": "1"}
		}},
		{"sched-policy", "process.scheduler.policy: unknown policy", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: "SCHED_FAST"} }},
		{"sched-nice", "process.scheduler.nice: 50 is outside", func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther, Nice: 50}
		}},
		{"sched-prio", "process.scheduler.priority: 0 is outside 1..99", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedFIFO} }},
		{"ioprio-class", "process.ioPriority.class: unknown class", func(s *specs.Spec) { s.Process.IOPriority = &specs.LinuxIOPriority{Class: "X"} }},
		{"ioprio-prio", "process.ioPriority.priority: 9 is outside 0..7", func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 9}
		}},
		{"affinity", "process.execCPUAffinity.final: invalid cpu list", func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Final: "0-x"} }},
		{"affinity-absent-cpu", "process.execCPUAffinity.initial 1000: sched_setaffinity", func(s *specs.Spec) {
			s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: "1000"}
		}},
		{"personality", "linux.personality.domain: unknown domain", func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: "LINUX64"} }},
		{"umask", "process.user.umask: 01000 is not a file mode mask", func(s *specs.Spec) { u := uint32(0o1000); s.Process.User.Umask = &u }},
		{"idmap-not-bind", "mounts[7].options: idmap needs a bind mount", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "tmpfs", Source: "tmpfs", Options: []string{"idmap"}})
		}},
		{"idmap-no-userns", "mounts[7].uidMappings: an idmapped mount without mappings needs a new user namespace", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: "/tmp", Options: []string{"bind", "idmap"}})
		}},
		{"mappings-without-idmap", "mounts[7].uidMappings: mappings need the idmap or ridmap option", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: "/tmp", Options: []string{"bind"},
				UIDMappings: []specs.LinuxIDMapping{{Size: 1}}, GIDMappings: []specs.LinuxIDMapping{{Size: 1}}})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.spec("true")
			c.edit(s)
			e.write(s)
			e.fails(c.want, "run", e.id)
			e.assertGone(e.id, 0)
		})
	}
}

func dropNS(ns []specs.LinuxNamespace, t specs.LinuxNamespaceType) []specs.LinuxNamespace {
	var out []specs.LinuxNamespace
	for _, n := range ns {
		if n.Type != t {
			out = append(out, n)
		}
	}
	return out
}

func mkfifo(p string) error { return unix.Mkfifo(p, 0o644) }
