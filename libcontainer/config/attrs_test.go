package config

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestAttrErrorsNameTheField(t *testing.T) {
	big := uint32(0o7777)
	cases := []parseErrorCase{
		{"sysctl host-wide", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.swappiness": "1"} }, "linux.sysctl.vm.swappiness: not allowed"},
		{"sysctl net in host netns", func(s *specs.Spec) {
			s.Linux.Namespaces = dropType(s.Linux.Namespaces, specs.NetworkNamespace)
			s.Linux.Sysctl = map[string]string{"net.core.somaxconn": "1"}
		}, "linux.sysctl.net.core.somaxconn: needs the container's own network namespace"},
		{"sysctl net joined host netns", func(s *specs.Spec) {
			s.Linux.Namespaces = dropType(s.Linux.Namespaces, specs.NetworkNamespace)
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/proc/self/ns/net"})
			s.Linux.Sysctl = map[string]string{"net.core.somaxconn": "1"}
		}, "linux.sysctl.net.core.somaxconn: needs the container's own network namespace"},
		{"sysctl mqueue in host ipc", func(s *specs.Spec) {
			s.Linux.Namespaces = dropType(s.Linux.Namespaces, specs.IPCNamespace)
			s.Linux.Sysctl = map[string]string{"fs.mqueue.msg_max": "1"}
		}, "linux.sysctl.fs.mqueue.msg_max: needs the container's own ipc namespace"},
		{"sysctl domainname in host uts", func(s *specs.Spec) {
			s.Hostname = ""
			s.Linux.Namespaces = dropType(s.Linux.Namespaces, specs.UTSNamespace)
			s.Linux.Sysctl = map[string]string{"kernel.domainname": "x"}
		}, "linux.sysctl.kernel.domainname: needs the container's own uts namespace"},
		{"sysctl hostname conflict", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.hostname": "other"} }, `linux.sysctl.kernel.hostname: conflicts with hostname "husk"`},
		{"sysctl escape", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"net/../../x": "1"} }, "invalid sysctl name"},
		{"sched policy", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: "SCHED_X"} }, "process.scheduler.policy"},
		{"sched nice", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther, Nice: -21} }, "process.scheduler.nice: -21"},
		{"sched prio on other", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther, Priority: 3} }, "process.scheduler.priority: only"},
		{"sched deadline fields", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther, Runtime: 1} }, "process.scheduler.runtime"},
		{"sched flag", func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther, Flags: []specs.LinuxSchedulerFlag{"SCHED_FLAG_X"}}
		}, "process.scheduler.flags[0]"},
		{"ioprio class", func(s *specs.Spec) { s.Process.IOPriority = &specs.LinuxIOPriority{Class: "RT"} }, "process.ioPriority.class"},
		{"ioprio level", func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_RT, Priority: 8}
		}, "process.ioPriority.priority: 8"},
		{"affinity", func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: "3-1"} }, "process.execCPUAffinity.initial: invalid cpu list"},
		{"umask", func(s *specs.Spec) { s.Process.User.Umask = &big }, "process.user.umask"},
		{"personality", func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: "BSD"} }, "linux.personality.domain"},
		{"personality flags", func(s *specs.Spec) {
			s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux, Flags: []specs.LinuxPersonalityFlag{"X"}}
		}, "linux.personality.flags"},
		{"idmap tmpfs", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "tmpfs", Options: []string{"idmap"}})
		}, "mounts[7].options: idmap needs a bind mount"},
		{"idmap half mappings", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Source: "/", Options: []string{"rbind", "ridmap"},
				UIDMappings: []specs.LinuxIDMapping{{Size: 1}}})
		}, "mounts[7].uidMappings: uidMappings and gidMappings must be given together"},
		{"idmap missing source", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{Size: 1}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{Size: 1}}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Source: "/nonexistent-husk", Options: []string{"bind", "idmap"}})
		}, "mounts[7].source: stat /nonexistent-husk"},
	}
	expectParseErrors(t, cases)
}

func TestAttrsAccepted(t *testing.T) {
	s := Default(false)
	s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "1", "fs.mqueue.queues_max": "1", "kernel.domainname": "d"}
	s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedRR, Priority: 10, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}
	s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE}
	s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: "0-1,3", Final: "0"}
	s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
	if _, err := Parse(marshal(t, s), bundle(t)); err != nil {
		t.Fatal(err)
	}
}

func TestRecursiveAtimeOptions(t *testing.T) {
	for opt, want := range map[string]uint64{
		"rnoatime": unix.MOUNT_ATTR_NOATIME, "rrelatime": unix.MOUNT_ATTR_RELATIME, "rstrictatime": unix.MOUNT_ATTR_STRICTATIME,
		"ratime": unix.MOUNT_ATTR_RELATIME, "rnorelatime": unix.MOUNT_ATTR_STRICTATIME,
	} {
		o := ParseMountOptions([]string{"rnoexec", opt})
		if o.AttrClr != unix.MOUNT_ATTR__ATIME || o.AttrSet != want|unix.MOUNT_ATTR_NOEXEC {
			t.Errorf("%s: set %#x clr %#x", opt, o.AttrSet, o.AttrClr)
		}
	}
	if set, err := ParseCPUList("0-2,5"); err != nil || set.Count() != 4 || !set.IsSet(5) {
		t.Errorf("cpu list: %v %v", set, err)
	}
}

func dropType(ns []specs.LinuxNamespace, t specs.LinuxNamespaceType) []specs.LinuxNamespace {
	var out []specs.LinuxNamespace
	for _, n := range ns {
		if n.Type != t {
			out = append(out, n)
		}
	}
	return out
}
