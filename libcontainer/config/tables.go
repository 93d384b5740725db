package config

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The spec names things (namespaces, capabilities, rlimits, mount options)
// by string; these tables are the one place those strings become kernel
// values, so Validate and the init process agree on what is known.

var namespaceFlags = map[specs.LinuxNamespaceType]int{
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	specs.TimeNamespace:    unix.CLONE_NEWTIME,
}

// NamespaceFlag returns the CLONE_NEW* flag of a namespace type.
func NamespaceFlag(t specs.LinuxNamespaceType) (int, error) {
	f, ok := namespaceFlags[t]
	if !ok {
		return 0, fmt.Errorf("unknown namespace type %q", t)
	}
	return f, nil
}

// capabilityNames is indexed by capability number (linux/capability.h).
var capabilityNames = [...]string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// CapabilityValue returns the number of a capability named as in the spec
// ("CAP_SYS_ADMIN").
func CapabilityValue(name string) (int, bool) {
	for i, n := range capabilityNames {
		if n == name {
			return i, true
		}
	}
	return 0, false
}

var rlimitTypes = map[string]int{
	"RLIMIT_AS":         unix.RLIMIT_AS,
	"RLIMIT_CORE":       unix.RLIMIT_CORE,
	"RLIMIT_CPU":        unix.RLIMIT_CPU,
	"RLIMIT_DATA":       unix.RLIMIT_DATA,
	"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
	"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
	"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE":       unix.RLIMIT_NICE,
	"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
	"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
	"RLIMIT_RSS":        unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK":      unix.RLIMIT_STACK,
}

// RlimitType returns the resource number of an rlimit named as in the spec.
func RlimitType(name string) (int, bool) {
	t, ok := rlimitTypes[name]
	return t, ok
}

var propagationFlags = map[string]int{
	"private":     unix.MS_PRIVATE,
	"shared":      unix.MS_SHARED,
	"slave":       unix.MS_SLAVE,
	"unbindable":  unix.MS_UNBINDABLE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// PropagationFlag returns the mount(2) flags of a propagation name.
func PropagationFlag(name string) (int, bool) {
	f, ok := propagationFlags[name]
	return f, ok
}

// mountFlags maps an option to the flag it sets, or clears when clear is true.
var mountFlags = map[string]struct {
	clear bool
	flag  int
}{
	"acl":           {false, unix.MS_POSIXACL},
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"iversion":      {false, unix.MS_I_VERSION},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"loud":          {true, unix.MS_SILENT},
	"mand":          {false, unix.MS_MANDLOCK},
	"noacl":         {true, unix.MS_POSIXACL},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"silent":        {false, unix.MS_SILENT},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"symfollow":     {true, unix.MS_NOSYMFOLLOW},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

// recursiveAttrs are the mount_setattr(2) options ("rro" = recursive ro):
// set or clear a MOUNT_ATTR_* on the whole subtree.
var recursiveAttrs = map[string]struct {
	clear bool
	attr  uint64
}{
	"rro":            {false, unix.MOUNT_ATTR_RDONLY},
	"rrw":            {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":        {false, unix.MOUNT_ATTR_NOSUID},
	"rsuid":          {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev":         {false, unix.MOUNT_ATTR_NODEV},
	"rdev":           {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec":        {false, unix.MOUNT_ATTR_NOEXEC},
	"rexec":          {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":    {false, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":      {true, unix.MOUNT_ATTR_NODIRATIME},
	"rrelatime":      {false, unix.MOUNT_ATTR_RELATIME},
	"rnorelatime":    {true, unix.MOUNT_ATTR_RELATIME},
	"rnoatime":       {false, unix.MOUNT_ATTR_NOATIME},
	"ratime":         {true, unix.MOUNT_ATTR_NOATIME},
	"rstrictatime":   {false, unix.MOUNT_ATTR_STRICTATIME},
	"rnostrictatime": {true, unix.MOUNT_ATTR_STRICTATIME},
	"rnosymfollow":   {false, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":     {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// atimeOptions are the recursiveAttrs that pick the atime mode.
var atimeOptions = map[string]bool{
	"rrelatime": true, "rnorelatime": true, "rnoatime": true, "ratime": true,
	"rstrictatime": true, "rnostrictatime": true,
}

// MountOptions is a mount's option list sorted into what each syscall
// needs: mount(2) flags, propagation changes, mount_setattr(2) attributes,
// husk's own extensions, and the rest as filesystem data.
type MountOptions struct {
	Flags          int    // MS_* to set
	ClearFlags     int    // MS_* an option explicitly cleared ("rw", "suid")
	Propagation    []int  // applied in order after the mount
	AttrSet        uint64 // MOUNT_ATTR_* for the whole subtree
	AttrClr        uint64
	TmpCopyUp      bool // copy the directory's content into a new tmpfs
	IDMap          bool // idmapped mount (top mount only)
	RecursiveIDMap bool
	Data           string // filesystem-specific options, comma separated
}

// ParseMountOptions sorts a spec mount's options. Unknown options are
// filesystem data, as mount(8) treats them.
func ParseMountOptions(options []string) MountOptions {
	var o MountOptions
	var data []string
	for _, opt := range options {
		if f, ok := mountFlags[opt]; ok {
			if f.clear {
				o.Flags &^= f.flag
				o.ClearFlags |= f.flag
			} else {
				o.Flags |= f.flag
				o.ClearFlags &^= f.flag
			}
			continue
		}
		if p, ok := propagationFlags[opt]; ok {
			o.Propagation = append(o.Propagation, p)
			continue
		}
		if a, ok := recursiveAttrs[opt]; ok {
			if atimeOptions[opt] {
				// The atime settings are one enum inside
				// MOUNT_ATTR__ATIME (relatime is 0), which the kernel
				// only changes when attr_clr holds the whole mask.
				// Clearing one (ratime, rnorelatime, rnostrictatime)
				// means the kernel default, relatime, except that
				// rnorelatime means strictatime.
				val := a.attr
				if a.clear {
					val = unix.MOUNT_ATTR_RELATIME
					if opt == "rnorelatime" {
						val = unix.MOUNT_ATTR_STRICTATIME
					}
				}
				o.AttrClr |= unix.MOUNT_ATTR__ATIME
				o.AttrSet = o.AttrSet&^unix.MOUNT_ATTR__ATIME | val
				continue
			}
			if a.clear {
				o.AttrClr |= a.attr
				o.AttrSet &^= a.attr
			} else {
				o.AttrSet |= a.attr
				o.AttrClr &^= a.attr
			}
			continue
		}
		switch opt {
		case "tmpcopyup":
			o.TmpCopyUp = true
		case "idmap":
			o.IDMap = true
		case "ridmap":
			o.IDMap, o.RecursiveIDMap = true, true
		default:
			data = append(data, opt)
		}
	}
	o.Data = strings.Join(data, ",")
	return o
}
