package seccomp

import (
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// The ENOSYS stub (runc's patchbpf): a profile written before a syscall
// existed does not name it, so with a deny-by-default profile a program
// calling it gets EPERM (or is killed) and never takes the fallback libc
// has for old kernels, which it takes only on ENOSYS (clone3 -> clone,
// faccessat2 -> faccessat, ...). So, per architecture of the filter, a
// syscall numbered above every syscall the profile names returns ENOSYS
// before the profile's filter runs. clone3 gets ENOSYS whenever the
// profile does not name it: a filter cannot look into its argument
// structure, so profiles that predate it must keep glibc on clone.
// Like runc, no stub for a permissive default (ALLOW, LOG, TRACE: a
// tracer handles new syscalls itself) or a default that already is ENOSYS.

// x32Bit marks an x32 syscall number on x86_64 (__X32_SYSCALL_BIT).
const x32Bit = 0x40000000

// auditArch is the seccomp_data.arch value of each architecture libseccomp
// knows; x32 shares x86_64's and is told apart by x32Bit.
var auditArch = map[libseccomp.ScmpArch]uint32{
	libseccomp.ArchX86:         unix.AUDIT_ARCH_I386,
	libseccomp.ArchAMD64:       unix.AUDIT_ARCH_X86_64,
	libseccomp.ArchX32:         unix.AUDIT_ARCH_X86_64,
	libseccomp.ArchARM:         unix.AUDIT_ARCH_ARM,
	libseccomp.ArchARM64:       unix.AUDIT_ARCH_AARCH64,
	libseccomp.ArchMIPS:        unix.AUDIT_ARCH_MIPS,
	libseccomp.ArchMIPS64:      unix.AUDIT_ARCH_MIPS64,
	libseccomp.ArchMIPS64N32:   unix.AUDIT_ARCH_MIPS64N32,
	libseccomp.ArchMIPSEL:      unix.AUDIT_ARCH_MIPSEL,
	libseccomp.ArchMIPSEL64:    unix.AUDIT_ARCH_MIPSEL64,
	libseccomp.ArchMIPSEL64N32: unix.AUDIT_ARCH_MIPSEL64N32,
	libseccomp.ArchPPC:         unix.AUDIT_ARCH_PPC,
	libseccomp.ArchPPC64:       unix.AUDIT_ARCH_PPC64,
	libseccomp.ArchPPC64LE:     unix.AUDIT_ARCH_PPC64LE,
	libseccomp.ArchS390:        unix.AUDIT_ARCH_S390,
	libseccomp.ArchS390X:       unix.AUDIT_ARCH_S390X,
	libseccomp.ArchRISCV64:     unix.AUDIT_ARCH_RISCV64,
	libseccomp.ArchLOONGARCH64: unix.AUDIT_ARCH_LOONGARCH64,
}

// archLimit is what the stub checks for one architecture (ABI).
type archLimit struct {
	arch   libseccomp.ScmpArch
	max    uint32 // highest syscall number the profile names
	clone3 uint32 // clone3's number when the profile does not name it, else 0
}

// enosysStub returns the instructions to put before the filter of sc, or
// nil when sc needs none.
func enosysStub(sc *specs.LinuxSeccomp) ([]unix.SockFilter, error) {
	switch sc.DefaultAction {
	case specs.ActAllow, specs.ActLog, specs.ActTrace:
		return nil, nil
	case specs.ActErrno:
		if sc.DefaultErrnoRet != nil && *sc.DefaultErrnoRet == uint(unix.ENOSYS) {
			return nil, nil
		}
	}
	native, err := libseccomp.GetNativeArch()
	if err != nil {
		return nil, fmt.Errorf("native architecture: %w", err)
	}
	arches := []libseccomp.ScmpArch{native} // libseccomp always adds it
	for _, a := range sc.Architectures {
		arch, err := libseccomp.GetArchFromString(strings.TrimPrefix(string(a), "SCMP_ARCH_"))
		if err == nil && !slices.Contains(arches, arch) {
			arches = append(arches, arch)
		}
	}
	named := func(name string) bool {
		for _, call := range sc.Syscalls {
			if slices.Contains(call.Names, name) {
				return true
			}
		}
		return false
	}
	cloned3 := named("clone3")
	// Group the ABIs by the arch value the kernel reports, in a fixed order.
	var order []uint32
	groups := map[uint32][]archLimit{}
	for _, arch := range arches {
		audit, ok := auditArch[arch]
		if !ok {
			continue // no stub: such calls meet the filter as they are
		}
		l := archLimit{arch: arch}
		for _, call := range sc.Syscalls {
			for _, name := range call.Names {
				// Multiplexed pseudo-syscalls are negative: ignored.
				if nr, err := libseccomp.GetSyscallFromNameByArch(name, arch); err == nil && nr > 0 && uint32(nr) > l.max {
					l.max = uint32(nr)
				}
			}
		}
		if l.max == 0 {
			continue
		}
		if nr, err := libseccomp.GetSyscallFromNameByArch("clone3", arch); !cloned3 && err == nil && nr > 0 && uint32(nr) <= l.max {
			l.clone3 = uint32(nr)
		}
		if _, ok := groups[audit]; !ok {
			order = append(order, audit)
		}
		groups[audit] = append(groups[audit], l)
	}
	if len(order) == 0 {
		return nil, nil
	}

	var a asm
	a.op(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 4, "", "") // seccomp_data.arch
	for _, audit := range order {
		a.op(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, audit, fmt.Sprint("arch", audit), "")
	}
	a.ja("filter")
	for _, audit := range order {
		a.label(fmt.Sprint("arch", audit))
		a.op(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 0, "", "") // seccomp_data.nr
		ls := groups[audit]
		if audit != unix.AUDIT_ARCH_X86_64 {
			a.limits(ls[0])
			continue
		}
		// x86_64 and x32 share the arch value; x32 numbers have x32Bit.
		var amd64, x32 *archLimit
		for i := range ls {
			if ls[i].arch == libseccomp.ArchX32 {
				x32 = &ls[i]
			} else {
				amd64 = &ls[i]
			}
		}
		switch {
		case x32 == nil:
			a.op(unix.BPF_JMP|unix.BPF_JSET|unix.BPF_K, x32Bit, "filter", "")
			a.limits(*amd64)
		case amd64 == nil:
			a.op(unix.BPF_JMP|unix.BPF_JSET|unix.BPF_K, x32Bit, "", "filter")
			a.limits(*x32)
		default:
			a.op(unix.BPF_JMP|unix.BPF_JSET|unix.BPF_K, x32Bit, "x32", "")
			a.limits(*amd64)
			a.label("x32")
			a.limits(*x32)
		}
	}
	a.label("enosys")
	a.op(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS), "", "")
	a.label("filter")
	return a.assemble()
}

// asm is a tiny forward-only BPF assembler: jumps name labels.
type asm struct {
	insns  []unix.SockFilter
	jt, jf []string // label per instruction, "" for the next one
	labels map[string]int
}

func (a *asm) op(code uint16, k uint32, jt, jf string) {
	a.insns = append(a.insns, unix.SockFilter{Code: code, K: k})
	a.jt = append(a.jt, jt)
	a.jf = append(a.jf, jf)
}

// ja jumps always; its 32-bit offset goes in K (jt "=" marks it).
func (a *asm) ja(label string) { a.op(unix.BPF_JMP|unix.BPF_JA, 0, "="+label, "") }

func (a *asm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.insns)
}

// limits checks the syscall number in A against one ABI's limits; it
// ends in a jump to the filter.
func (a *asm) limits(l archLimit) {
	if l.arch == libseccomp.ArchS390 || l.arch == libseccomp.ArchS390X {
		// A number the kernel does not know reaches the filter as 0
		// (setup(2), multiplexer of large numbers, unused otherwise).
		a.op(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, 0, "enosys", "")
	}
	if l.clone3 != 0 {
		a.op(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, l.clone3, "enosys", "")
	}
	a.op(unix.BPF_JMP|unix.BPF_JGT|unix.BPF_K, l.max, "enosys", "")
	a.ja("filter")
}

func (a *asm) assemble() ([]unix.SockFilter, error) {
	for i := range a.insns {
		off := func(label string) (uint32, error) {
			to, ok := a.labels[label]
			if !ok || to <= i {
				return 0, fmt.Errorf("enosys stub: bad jump to %q", label)
			}
			return uint32(to - i - 1), nil
		}
		if l, ok := strings.CutPrefix(a.jt[i], "="); ok {
			k, err := off(l)
			if err != nil {
				return nil, err
			}
			a.insns[i].K = k
			continue
		}
		for _, j := range []struct {
			label string
			dst   *uint8
		}{{a.jt[i], &a.insns[i].Jt}, {a.jf[i], &a.insns[i].Jf}} {
			if j.label == "" {
				continue
			}
			k, err := off(j.label)
			if err != nil {
				return nil, err
			}
			if k > 255 {
				return nil, fmt.Errorf("enosys stub: jump to %q too long (%d)", j.label, k)
			}
			*j.dst = uint8(k)
		}
	}
	return a.insns, nil
}
