// Package seccomp turns linux.seccomp into a kernel filter with
// libseccomp (linked statically), and hands a notify listener to the
// runtime. Validate needs no libseccomp, so bad configs fail before
// anything is created; Load runs in the container's init right before it
// execs (see libcontainer/initproc/process.go).
package seccomp

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Actions, operators, architectures and flags of the runtime-spec, in the
// spec's order (features lists them from here).
var (
	Actions = []specs.LinuxSeccompAction{
		specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap,
		specs.ActErrno, specs.ActTrace, specs.ActAllow, specs.ActLog, specs.ActNotify,
	}
	Operators = []specs.LinuxSeccompOperator{
		specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
		specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual,
	}
	Flags = []specs.LinuxSeccompFlag{
		specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow,
		specs.LinuxSeccompFlagWaitKillableRecv, "SECCOMP_FILTER_FLAG_TSYNC",
	}
	Archs = []specs.Arch{
		specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64,
		specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL,
		specs.ArchMIPSEL64, specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64,
		specs.ArchPPC64LE, specs.ArchS390, specs.ArchS390X, specs.ArchPARISC,
		specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64,
		specs.ArchM68K, specs.ArchSH, specs.ArchSHEB,
	}
)

// notifyForbidden are the system calls init itself makes between loading a
// filter with a notify rule and handing the listener to the parent: a
// notify rule on them would deadlock (nobody listens yet).
var notifyForbidden = map[string]bool{"write": true, "read": true, "sendmsg": true, "close": true}

// Validate checks linux.seccomp; errors name the field at fault. Unknown
// syscall names are not errors (they are skipped at load, as runc does:
// profiles list syscalls newer than some kernels).
func Validate(sc *specs.LinuxSeccomp) error {
	if sc == nil {
		return nil
	}
	const f = "linux.seccomp"
	if !has(Actions, sc.DefaultAction) {
		return fmt.Errorf("%s.defaultAction: unknown action %q", f, sc.DefaultAction)
	}
	if sc.DefaultAction == specs.ActNotify {
		return fmt.Errorf("%s.defaultAction: %s cannot be the default action", f, specs.ActNotify)
	}
	for i, a := range sc.Architectures {
		if !has(Archs, a) {
			return fmt.Errorf("%s.architectures[%d]: unknown architecture %q", f, i, a)
		}
	}
	for i, fl := range sc.Flags {
		if !has(Flags, fl) {
			return fmt.Errorf("%s.flags[%d]: unknown flag %q", f, i, fl)
		}
	}
	for i, call := range sc.Syscalls {
		field := fmt.Sprintf("%s.syscalls[%d]", f, i)
		if len(call.Names) == 0 {
			return fmt.Errorf("%s.names: must not be empty", field)
		}
		if !has(Actions, call.Action) {
			return fmt.Errorf("%s.action: unknown action %q", field, call.Action)
		}
		if call.ErrnoRet != nil && call.Action != specs.ActErrno && call.Action != specs.ActTrace {
			return fmt.Errorf("%s.errnoRet: only valid with %s or %s", field, specs.ActErrno, specs.ActTrace)
		}
		if call.Action == specs.ActNotify {
			for _, n := range call.Names {
				if notifyForbidden[n] {
					return fmt.Errorf("%s: %s cannot be used for %q (husk init needs it to hand over the listener)", field, specs.ActNotify, n)
				}
			}
		}
		for j, arg := range call.Args {
			if arg.Index > 5 {
				return fmt.Errorf("%s.args[%d].index: %d is above 5", field, j, arg.Index)
			}
			if !has(Operators, arg.Op) {
				return fmt.Errorf("%s.args[%d].op: unknown operator %q", field, j, arg.Op)
			}
		}
	}
	if UsesNotify(sc) && sc.ListenerPath == "" {
		return fmt.Errorf("%s.listenerPath: must be set when a rule uses %s", f, specs.ActNotify)
	}
	return nil
}

// UsesNotify reports whether a rule of sc uses SCMP_ACT_NOTIFY (and so
// needs a listener).
func UsesNotify(sc *specs.LinuxSeccomp) bool {
	if sc == nil {
		return false
	}
	for _, call := range sc.Syscalls {
		if call.Action == specs.ActNotify {
			return true
		}
	}
	return false
}

// ErrUnsupported is wrapped by Load's errors for what this libseccomp or
// kernel cannot do.
var ErrUnsupported = errors.New("not supported on this host")

func has[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
