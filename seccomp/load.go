package seccomp

import (
	"errors"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// Load builds the filter sc describes and loads it into the calling
// process (all its threads: libseccomp sets TSYNC). It returns the notify
// listener's descriptor, or -1 when no rule uses SCMP_ACT_NOTIFY. sc must
// have passed Validate.
func Load(sc *specs.LinuxSeccomp) (int, error) {
	defAct, err := action(sc.DefaultAction, sc.DefaultErrnoRet)
	if err != nil {
		return -1, fmt.Errorf("defaultAction: %w", err)
	}
	filter, err := libseccomp.NewFilter(defAct)
	if err != nil {
		return -1, fmt.Errorf("create filter: %w", err)
	}
	defer filter.Release()
	// libseccomp would set no_new_privs itself: whether the process gets
	// it is process.noNewPrivileges's business, not the filter's.
	if err := filter.SetNoNewPrivsBit(false); err != nil {
		return -1, fmt.Errorf("unset no_new_privs attribute: %w", err)
	}
	for i, a := range sc.Architectures {
		arch, err := libseccomp.GetArchFromString(strings.TrimPrefix(string(a), "SCMP_ARCH_"))
		if err != nil {
			return -1, fmt.Errorf("architectures[%d]: %w", i, err)
		}
		if err := filter.AddArch(arch); err != nil {
			return -1, fmt.Errorf("architectures[%d] %s: %w", i, a, err)
		}
	}
	for i, fl := range sc.Flags {
		if err := setFlag(filter, fl); err != nil {
			return -1, fmt.Errorf("flags[%d] %s: %w", i, fl, err)
		}
	}
	for i, call := range sc.Syscalls {
		if err := addRule(filter, defAct, call); err != nil {
			return -1, fmt.Errorf("syscalls[%d]: %w", i, err)
		}
	}
	if err := filter.Load(); err != nil {
		return -1, fmt.Errorf("load filter: %w", err)
	}
	if !UsesNotify(sc) {
		return -1, nil
	}
	fd, err := filter.GetNotifFd()
	if err != nil {
		return -1, fmt.Errorf("get notify listener: %w", err)
	}
	return int(fd), nil
}

func setFlag(filter *libseccomp.ScmpFilter, fl specs.LinuxSeccompFlag) error {
	var err error
	switch fl {
	case "SECCOMP_FILTER_FLAG_TSYNC":
		return nil // libseccomp-golang always sets it (falling back where the kernel lacks it)
	case specs.LinuxSeccompFlagLog:
		err = filter.SetLogBit(true)
	case specs.LinuxSeccompFlagSpecAllow:
		err = filter.SetSSB(true)
	case specs.LinuxSeccompFlagWaitKillableRecv:
		err = filter.SetWaitKill(true)
	default:
		return fmt.Errorf("unknown flag")
	}
	var verr *libseccomp.VersionError
	if errors.As(err, &verr) {
		return fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	return err
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
