package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Process attributes and mount fields beyond the basics: their tables
// (shared with init) and their validation.

var schedPolicies = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther: 0, specs.SchedFIFO: 1, specs.SchedRR: 2, specs.SchedBatch: 3,
	specs.SchedISO: 4, specs.SchedIdle: 5, specs.SchedDeadline: 6,
}

var schedFlags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork: 0x01, specs.SchedFlagReclaim: 0x02, specs.SchedFlagDLOverrun: 0x04,
	specs.SchedFlagKeepPolicy: 0x08, specs.SchedFlagKeepParams: 0x10,
	specs.SchedFlagUtilClampMin: 0x20, specs.SchedFlagUtilClampMax: 0x40,
}

// SchedPolicy returns the kernel number of a scheduler policy name.
func SchedPolicy(p specs.LinuxSchedulerPolicy) (uint32, bool) {
	v, ok := schedPolicies[p]
	return v, ok
}

// SchedFlag returns the sched_setattr(2) flag of a flag name.
func SchedFlag(f specs.LinuxSchedulerFlag) (uint64, bool) {
	v, ok := schedFlags[f]
	return v, ok
}

// IOPrioClass returns the ioprio_set(2) class of a class name.
func IOPrioClass(c specs.IOPriorityClass) (int, bool) {
	switch c {
	case specs.IOPRIO_CLASS_RT:
		return 1, true
	case specs.IOPRIO_CLASS_BE:
		return 2, true
	case specs.IOPRIO_CLASS_IDLE:
		return 3, true
	}
	return 0, false
}

// Personality returns the personality(2) value of a domain name.
func Personality(d specs.LinuxPersonalityDomain) (uint, bool) {
	switch d {
	case specs.PerLinux:
		return 0x0000, true // PER_LINUX
	case specs.PerLinux32:
		return 0x0008, true // PER_LINUX32
	}
	return 0, false
}

// ParseCPUList parses a cpu list ("0-3,7") into a set.
func ParseCPUList(s string) (*unix.CPUSet, error) {
	var set unix.CPUSet
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a || b >= 1024 {
			return nil, fmt.Errorf("invalid cpu list %q (want e.g. 0-3,7)", s)
		}
		for c := a; c <= b; c++ {
			set.Set(c)
		}
	}
	return &set, nil
}

// ipcSysctls are the kernel.* sysctls an ipc namespace owns.
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
	"kernel.msg_next_id": true, "kernel.sem_next_id": true, "kernel.shm_next_id": true,
}

// SysctlPath is a sysctl's file under /proc/sys.
func SysctlPath(key string) string { return strings.ReplaceAll(key, ".", "/") }

// validateSysctl allows only sysctls that a namespace of the container's
// own owns (as runc): changing any other would change the host.
func validateSysctl(c *Config) error {
	if c.Spec.Linux == nil {
		return nil
	}
	s := c.Spec
	for key, val := range s.Linux.Sysctl {
		field := "linux.sysctl." + key
		clean := filepath.Clean("/" + SysctlPath(key))
		if key == "" || strings.ContainsAny(key, "/\x00") || clean != "/"+SysctlPath(key) || strings.Contains(key, "..") {
			return fmt.Errorf("%s: invalid sysctl name", field)
		}
		if strings.ContainsRune(val, 0) {
			return fmt.Errorf("%s: value contains a NUL byte", field)
		}
		var need specs.LinuxNamespaceType
		switch {
		case ipcSysctls[key] || strings.HasPrefix(key, "fs.mqueue."):
			need = specs.IPCNamespace
		case strings.HasPrefix(key, "net."):
			need = specs.NetworkNamespace
		case key == "kernel.hostname" || key == "kernel.domainname":
			need = specs.UTSNamespace
			if key == "kernel.hostname" && s.Hostname != "" && s.Hostname != val {
				return fmt.Errorf("%s: conflicts with hostname %q", field, s.Hostname)
			}
		default:
			return fmt.Errorf("%s: not allowed: no namespace of the container owns it, so it would change the host", field)
		}
		if !ownNamespace(s, need) {
			return fmt.Errorf("%s: needs the container's own %s namespace in linux.namespaces", field, need)
		}
	}
	return nil
}

// ownNamespace reports whether the container gets a namespace of type t
// that is not the one husk runs in (new, or joined by a path that names
// another namespace).
func ownNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	ns, ok := Namespace(s, t)
	if !ok || ns.Path == "" {
		return ok
	}
	self := "/proc/self/ns/" + nsFileName(t)
	var a, b unix.Stat_t
	if unix.Stat(ns.Path, &a) != nil || unix.Stat(self, &b) != nil {
		return true // a bad path is reported when it is joined
	}
	return a.Dev != b.Dev || a.Ino != b.Ino
}

func nsFileName(t specs.LinuxNamespaceType) string {
	switch t {
	case specs.NetworkNamespace:
		return "net"
	case specs.MountNamespace:
		return "mnt"
	}
	return string(t)
}

// validateProcessAttrs checks the process fields init applies with
// sched_setattr, ioprio_set, personality and sched_setaffinity.
func validateProcessAttrs(c *Config) error {
	p := c.Spec.Process
	if sc := p.Scheduler; sc != nil {
		pol, ok := SchedPolicy(sc.Policy)
		if !ok {
			return fmt.Errorf("process.scheduler.policy: unknown policy %q", sc.Policy)
		}
		if sc.Nice < -20 || sc.Nice > 19 {
			return fmt.Errorf("process.scheduler.nice: %d is outside -20..19", sc.Nice)
		}
		rt := sc.Policy == specs.SchedFIFO || sc.Policy == specs.SchedRR
		if rt && (sc.Priority < 1 || sc.Priority > 99) {
			return fmt.Errorf("process.scheduler.priority: %d is outside 1..99 for %s", sc.Priority, sc.Policy)
		}
		if !rt && sc.Priority != 0 {
			return fmt.Errorf("process.scheduler.priority: only SCHED_FIFO and SCHED_RR take a priority")
		}
		if pol != 6 && (sc.Runtime != 0 || sc.Deadline != 0 || sc.Period != 0) {
			return errors.New("process.scheduler.runtime: runtime, deadline and period are for SCHED_DEADLINE only")
		}
		for i, f := range sc.Flags {
			if _, ok := SchedFlag(f); !ok {
				return fmt.Errorf("process.scheduler.flags[%d]: unknown flag %q", i, f)
			}
		}
	}
	if io := p.IOPriority; io != nil {
		if _, ok := IOPrioClass(io.Class); !ok {
			return fmt.Errorf("process.ioPriority.class: unknown class %q", io.Class)
		}
		if io.Priority < 0 || io.Priority > 7 {
			return fmt.Errorf("process.ioPriority.priority: %d is outside 0..7", io.Priority)
		}
	}
	if a := p.ExecCPUAffinity; a != nil {
		for _, v := range []struct{ name, val string }{{"initial", a.Initial}, {"final", a.Final}} {
			if v.val == "" {
				continue
			}
			if _, err := ParseCPUList(v.val); err != nil {
				return fmt.Errorf("process.execCPUAffinity.%s: %w", v.name, err)
			}
		}
	}
	if p.User.Umask != nil && *p.User.Umask > 0o777 {
		return fmt.Errorf("process.user.umask: %#o is not a file mode mask (0..0777)", *p.User.Umask)
	}
	if l := c.Spec.Linux; l != nil && l.Personality != nil {
		if _, ok := Personality(l.Personality.Domain); !ok {
			return fmt.Errorf("linux.personality.domain: unknown domain %q (LINUX or LINUX32)", l.Personality.Domain)
		}
		if len(l.Personality.Flags) > 0 {
			return fmt.Errorf("linux.personality.flags: unknown flag %q (none are defined)", l.Personality.Flags[0])
		}
	}
	return nil
}

// validateMountExtras checks idmapped mounts and mount option values
// that ParseMountOptions would otherwise pass to the kernel as data.
func validateMountExtras(c *Config) error {
	s := c.Spec
	for i, m := range s.Mounts {
		field := "mounts[" + strconv.Itoa(i) + "]"
		opts := ParseMountOptions(m.Options)
		if !opts.IDMap {
			if len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 {
				return fmt.Errorf("%s.uidMappings: mappings need the idmap or ridmap option", field)
			}
			continue
		}
		if !IsBind(m) {
			return fmt.Errorf("%s.options: idmap needs a bind mount", field)
		}
		if (len(m.UIDMappings) == 0) != (len(m.GIDMappings) == 0) {
			return fmt.Errorf("%s.uidMappings: uidMappings and gidMappings must be given together", field)
		}
		if len(m.UIDMappings) == 0 && !NewNamespace(s, specs.UserNamespace) {
			return fmt.Errorf("%s.uidMappings: an idmapped mount without mappings needs a new user namespace in linux.namespaces", field)
		}
		for j, mp := range append(append([]specs.LinuxIDMapping(nil), m.UIDMappings...), m.GIDMappings...) {
			if mp.Size == 0 {
				return fmt.Errorf("%s.uidMappings[%d].size: must be at least 1", field, j)
			}
		}
		if !filepath.IsAbs(m.Source) {
			if _, err := os.Stat(filepath.Join(c.Bundle, m.Source)); err != nil {
				return fmt.Errorf("%s.source: %w", field, err)
			}
		} else if _, err := os.Stat(m.Source); err != nil {
			return fmt.Errorf("%s.source: %w", field, err)
		}
	}
	return nil
}

// IsBind reports whether m is a bind mount (type "bind", or a "bind" or
// "rbind" option with any type, as runc reads it).
func IsBind(m specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}
