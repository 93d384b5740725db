package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Program is a filter compiled to BPF, with the seccomp(2) flags to load
// it with. Compiling allocates (libseccomp's C heap, sometimes a lot);
// loading does not, so init compiles before it applies process.rlimits (a
// low RLIMIT_AS or RLIMIT_DATA makes every later allocation fail) and
// loads as late as it can.
type Program struct {
	insns  []unix.SockFilter
	flags  uintptr
	notify bool
}

// Compile builds the filter sc describes. sc must have passed Validate.
func Compile(sc *specs.LinuxSeccomp) (*Program, error) {
	defAct, err := action(sc.DefaultAction, sc.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("defaultAction: %w", err)
	}
	filter, err := libseccomp.NewFilter(defAct)
	if err != nil {
		return nil, fmt.Errorf("create filter: %w", err)
	}
	defer filter.Release()
	for i, a := range sc.Architectures {
		arch, err := libseccomp.GetArchFromString(strings.TrimPrefix(string(a), "SCMP_ARCH_"))
		if err != nil {
			return nil, fmt.Errorf("architectures[%d]: %w", i, err)
		}
		if err := filter.AddArch(arch); err != nil {
			return nil, fmt.Errorf("architectures[%d] %s: %w", i, a, err)
		}
	}
	p := &Program{notify: UsesNotify(sc)}
	for i, fl := range sc.Flags {
		f, err := kernelFlag(fl)
		if err != nil {
			return nil, fmt.Errorf("flags[%d] %s: %w", i, fl, err)
		}
		if !KernelHasFlag(f) {
			return nil, fmt.Errorf("flags[%d] %s: %w", i, fl, ErrUnsupported)
		}
		p.flags |= f
	}
	if p.notify {
		p.flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
		if p.flags&unix.SECCOMP_FILTER_FLAG_TSYNC != 0 {
			// Otherwise the kernel cannot say which thread failed to sync.
			p.flags |= unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
		}
	}
	for i, call := range sc.Syscalls {
		if err := addRule(filter, defAct, call); err != nil {
			return nil, fmt.Errorf("syscalls[%d]: %w", i, err)
		}
	}
	if p.insns, err = export(filter); err != nil {
		return nil, err
	}
	stub, err := enosysStub(sc)
	if err != nil {
		return nil, err
	}
	p.insns = append(stub, p.insns...)
	if len(p.insns) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("filter of %d instructions is longer than the kernel's limit %d", len(p.insns), unix.BPF_MAXINSNS)
	}
	return p, nil
}

// export has libseccomp write the BPF program and reads it back.
func export(filter *libseccomp.ScmpFilter) ([]unix.SockFilter, error) {
	fd, err := unix.MemfdCreate("seccomp-bpf", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("export filter: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "seccomp-bpf")
	defer f.Close()
	if err := filter.ExportBPF(f); err != nil {
		return nil, fmt.Errorf("export filter: %w", err)
	}
	raw, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<30))
	if err != nil {
		return nil, fmt.Errorf("export filter: read: %w", err)
	}
	if len(raw) == 0 || len(raw)%8 != 0 || len(raw)/8 > 0xffff {
		return nil, fmt.Errorf("export filter: %d bytes is not a BPF program", len(raw))
	}
	insns := make([]unix.SockFilter, len(raw)/8)
	for i := range insns {
		b := raw[i*8:]
		insns[i] = unix.SockFilter{
			Code: binary.NativeEndian.Uint16(b[0:]),
			Jt:   b[2],
			Jf:   b[3],
			K:    binary.NativeEndian.Uint32(b[4:]),
		}
	}
	return insns, nil
}

// Notify reports whether the program has a notify rule (and so a listener).
func (p *Program) Notify() bool { return p.notify }

// Load installs the program into the calling thread (all threads with
// SECCOMP_FILTER_FLAG_TSYNC; the thread that execs is the one that counts).
// Without no_new_privs this needs CAP_SYS_ADMIN. It returns the notify
// listener's descriptor, or -1 when no rule uses SCMP_ACT_NOTIFY.
func (p *Program) Load() (int, error) {
	prog := unix.SockFprog{Len: uint16(len(p.insns)), Filter: &p.insns[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, p.flags, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return -1, fmt.Errorf("load filter: %w", errno)
	}
	if !p.notify {
		return -1, nil
	}
	return int(r), nil
}

// KernelHasFlag reports whether the kernel knows a SECCOMP_FILTER_FLAG_*:
// with a known flag, a NULL program fails with EFAULT, with an unknown
// one with EINVAL (libseccomp probes the same way).
func KernelHasFlag(flag uintptr) bool {
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flag, 0)
	return errno == unix.EFAULT
}

// kernelFlag maps a spec flag to seccomp(2)'s.
func kernelFlag(fl specs.LinuxSeccompFlag) (uintptr, error) {
	switch fl {
	case "SECCOMP_FILTER_FLAG_TSYNC":
		return unix.SECCOMP_FILTER_FLAG_TSYNC, nil
	case specs.LinuxSeccompFlagLog:
		return unix.SECCOMP_FILTER_FLAG_LOG, nil
	case specs.LinuxSeccompFlagSpecAllow:
		return unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW, nil
	case specs.LinuxSeccompFlagWaitKillableRecv:
		return unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, nil
	}
	return 0, errors.New("unknown flag")
}

// action maps a spec action to libseccomp's; ERRNO and TRACE carry
// errnoRet (EPERM when unset, as runc).
func action(a specs.LinuxSeccompAction, errnoRet *uint) (libseccomp.ScmpAction, error) {
	ret := int16(1) // EPERM
	if errnoRet != nil {
		ret = int16(*errnoRet)
	}
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread, nil
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case specs.ActTrap:
		return libseccomp.ActTrap, nil
	case specs.ActErrno:
		return libseccomp.ActErrno.SetReturnCode(ret), nil
	case specs.ActTrace:
		return libseccomp.ActTrace.SetReturnCode(ret), nil
	case specs.ActAllow:
		return libseccomp.ActAllow, nil
	case specs.ActLog:
		return libseccomp.ActLog, nil
	case specs.ActNotify:
		return libseccomp.ActNotify, nil
	}
	return libseccomp.ActInvalid, fmt.Errorf("unknown action %q", a)
}

var operators = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

func addRule(filter *libseccomp.ScmpFilter, defAct libseccomp.ScmpAction, call specs.LinuxSyscall) error {
	act, err := action(call.Action, call.ErrnoRet)
	if err != nil {
		return fmt.Errorf("action: %w", err)
	}
	// libseccomp refuses a rule that repeats the default action; it would
	// change nothing anyway.
	if act == defAct {
		return nil
	}
	var conds []libseccomp.ScmpCondition
	perIndex := map[uint]int{}
	for j, arg := range call.Args {
		// MASKED_EQ takes (mask, value) = (value, valueTwo), as runc.
		values := []uint64{arg.Value}
		if arg.Op == specs.OpMaskedEqual {
			values = append(values, arg.ValueTwo)
		}
		c, err := libseccomp.MakeCondition(arg.Index, operators[arg.Op], values...)
		if err != nil {
			return fmt.Errorf("args[%d]: %w", j, err)
		}
		conds = append(conds, c)
		perIndex[arg.Index]++
	}
	// libseccomp cannot AND two conditions on one argument: such rules are
	// split into one rule per condition (OR), as runc does.
	split := false
	for _, n := range perIndex {
		split = split || n > 1
	}
	for _, name := range call.Names {
		nr, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			continue // unknown to this libseccomp/arch: skipped, as runc
		}
		switch {
		case len(conds) == 0:
			err = filter.AddRule(nr, act)
		case split:
			for _, c := range conds {
				if err = filter.AddRuleConditional(nr, act, []libseccomp.ScmpCondition{c}); err != nil {
					break
				}
			}
		default:
			err = filter.AddRuleConditional(nr, act, conds)
		}
		if err != nil {
			return fmt.Errorf("add rule for %s: %w", name, err)
		}
	}
	return nil
}
