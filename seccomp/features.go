package seccomp

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Support is what this libseccomp and kernel can do, for `husk features`.
type Support struct {
	Enabled   bool
	Actions   []string
	Operators []string
	Archs     []string
	Flags     []string
	Version   string // libseccomp's, e.g. "2.5.4"
}

// Probe asks libseccomp which actions and flags the kernel supports (its
// API level is probed from the kernel). Nothing is loaded.
func Probe() Support {
	var s Support
	api, err := libseccomp.GetAPI()
	if err != nil || api < 1 {
		return s
	}
	maj, min, mic := libseccomp.GetLibraryVersion()
	s.Enabled = true
	s.Version = itoa(maj) + "." + itoa(min) + "." + itoa(mic)
	// Kernel support by libseccomp API level (see seccomp_api_get(3)):
	// 3 log action and flag, kill process; 4 SPEC_ALLOW; 5 notify; 7 wait
	// killable recv.
	for _, a := range Actions {
		switch a {
		case specs.ActLog, specs.ActKillProcess:
			if api < 3 {
				continue
			}
		case specs.ActNotify:
			if api < 5 {
				continue
			}
		}
		s.Actions = append(s.Actions, string(a))
	}
	for _, op := range Operators {
		s.Operators = append(s.Operators, string(op))
	}
	// An architecture counts when this libseccomp can add it to a filter.
	if f, err := libseccomp.NewFilter(libseccomp.ActAllow); err == nil {
		for _, a := range Archs {
			arch, err := libseccomp.GetArchFromString(strings.TrimPrefix(string(a), "SCMP_ARCH_"))
			if err == nil && f.AddArch(arch) == nil {
				s.Archs = append(s.Archs, string(a))
			}
		}
		f.Release()
	}
	for _, f := range Flags {
		switch f {
		case specs.LinuxSeccompFlagLog:
			if api < 3 {
				continue
			}
		case specs.LinuxSeccompFlagSpecAllow:
			if api < 4 {
				continue
			}
		case specs.LinuxSeccompFlagWaitKillableRecv:
			// husk loads the compiled program itself: the kernel decides.
			if !KernelHasFlag(unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) {
				continue
			}
		}
		s.Flags = append(s.Flags, string(f))
	}
	return s
}

func itoa(u uint) string {
	if u == 0 {
		return "0"
	}
	var b []byte
	for ; u > 0; u /= 10 {
		b = append([]byte{byte('0' + u%10)}, b...)
	}
	return string(b)
}
