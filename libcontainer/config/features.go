package config

import (
	"os"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// MountOptionNames lists the mount options husk understands (for `husk
// features`), sorted.
func MountOptionNames() []string {
	var out []string
	for k := range mountFlags {
		out = append(out, k)
	}
	for k := range recursiveAttrs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// HostNamespaces lists the namespace types husk knows that this kernel
// has.
func HostNamespaces() []string {
	files := map[specs.LinuxNamespaceType]string{
		specs.PIDNamespace: "pid", specs.NetworkNamespace: "net", specs.MountNamespace: "mnt",
		specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.UserNamespace: "user",
		specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
	}
	var out []string
	for t := range namespaceFlags {
		if _, err := os.Lstat("/proc/self/ns/" + files[t]); err == nil {
			out = append(out, string(t))
		}
	}
	sort.Strings(out)
	return out
}

// HostCapabilities lists the capabilities husk knows that this kernel
// has (up to /proc/sys/kernel/cap_last_cap).
func HostCapabilities() []string {
	last := len(capabilityNames) - 1
	if data, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && n < last {
			last = n
		}
	}
	return append([]string(nil), capabilityNames[:last+1]...)
}
