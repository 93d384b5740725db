package initproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	selinux "github.com/opencontainers/selinux/go-selinux"
	"golang.org/x/sys/unix"

	"github.com/huskrt/husk/apparmor"
	"github.com/huskrt/husk/libcontainer/config"
	"github.com/huskrt/husk/seccomp"
)

// syncer is init's end of the sync socket to the parent.
type syncer struct {
	sock *os.File
	dec  *json.Decoder
	enc  *json.Encoder
}

// readyAndWait tells the parent init is set up and waits until it has
// saved the state. If the parent died the socket is closed: give up.
func (s *syncer) readyAndWait() error {
	if err := s.enc.Encode(Message{Type: MsgReady}); err != nil {
		return fmt.Errorf("report ready: %w", err)
	}
	var msg Message
	if err := s.dec.Decode(&msg); err != nil || msg.Type != MsgGo {
		os.Exit(1) // nobody to report to
	}
	return nil
}

// setupProcess gives this process the attributes of process (and
// linux.seccomp), in the order the kernel needs, up to but not including
// the exec. It is shared by the container's init and `husk exec`. It
// returns what execProcess needs.
func setupProcess(c *Config, s *syncer) (*prepared, error) {
	proc := c.Spec.Process
	p := &prepared{}

	// A session keyring of its own keeps the container away from the keys
	// of whoever started it; an exec'd process joins the container's
	// (same name). ENOSYS: the kernel has no keyrings, nothing to protect.
	if !c.NoNewKeyring {
		if _, err := unix.KeyctlJoinSessionKeyring("_ses." + c.ID); err != nil && !errors.Is(err, unix.ENOSYS) {
			return nil, fmt.Errorf("join a new session keyring: %w", err)
		}
	}
	// Compile the seccomp filter before the limits: a low RLIMIT_AS or
	// RLIMIT_DATA would make libseccomp's allocations fail. It is loaded
	// later, which allocates nothing.
	if sc := seccompConfig(c); sc != nil {
		prog, err := seccomp.Compile(sc)
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp: %w", err)
		}
		p.seccomp = prog
	}
	for i, rl := range proc.Rlimits {
		// A low address-space or data limit would make the runtime's
		// own allocations fail from here on: until the exec its soft
		// limit is the hard one, and the soft one goes on just before.
		if typ, ok := config.RlimitType(rl.Type); ok && (typ == unix.RLIMIT_AS || typ == unix.RLIMIT_DATA) && rl.Soft < rl.Hard {
			p.lateLimits = append(p.lateLimits, lateLimit{typ, unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}})
			rl.Soft = rl.Hard
		}
		if err := setRlimit(rl); err != nil {
			return nil, fmt.Errorf("process.rlimits[%d] %s (soft %d, hard %d): %w", i, rl.Type, rl.Soft, rl.Hard, err)
		}
	}

	// Scheduling, I/O priority and personality are inherited by the
	// program; set while still root (an RT policy needs CAP_SYS_NICE).
	if proc.Scheduler != nil {
		if err := setScheduler(proc.Scheduler); err != nil {
			return nil, err
		}
	}
	if proc.IOPriority != nil {
		if err := setIOPriority(proc.IOPriority); err != nil {
			return nil, err
		}
	}
	if l := c.Spec.Linux; l != nil && l.Personality != nil {
		if err := setPersonality(l.Personality); err != nil {
			return nil, err
		}
	}

	// HOME from the container's /etc/passwd when the config has none (as
	// runc). Find the program now, so a missing binary fails create (with
	// the words engines map to exit code 127), not start.
	c.Env = withHome(c.Env, proc.User.UID)
	var err error
	if p.path, err = lookPath(proc.Args[0], c.Env); err != nil {
		return nil, err
	}

	// Without no_new_privs, installing a seccomp filter needs
	// CAP_SYS_ADMIN: load it while we still are root (as runc does).
	if p.seccomp != nil && !proc.NoNewPrivileges {
		if err := loadSeccomp(p.seccomp, s); err != nil {
			return nil, err
		}
	}

	// Become the configured user with the configured capabilities. The
	// bounding set is cut while we are still root.
	if err := setUser(proc, c.SetgroupsDenied); err != nil {
		return nil, err
	}
	if proc.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return nil, fmt.Errorf("process.noNewPrivileges: %w", err)
		}
	}
	if err := unix.Chdir(proc.Cwd); err != nil {
		return nil, fmt.Errorf("process.cwd %s: %w", proc.Cwd, err)
	}

	// LSM labels take effect at exec; setting them here (not after the
	// fifo) lets create report a profile that cannot be applied.
	if err := apparmor.ApplyProfile(proc.ApparmorProfile); err != nil {
		return nil, fmt.Errorf("process.apparmorProfile: %w", err)
	}
	// A label on a host without SELinux is ignored, as runc does.
	if proc.SelinuxLabel != "" && selinux.GetEnabled() {
		if err := selinux.SetExecLabel(proc.SelinuxLabel); err != nil {
			return nil, fmt.Errorf("process.selinuxLabel %q: %w", proc.SelinuxLabel, err)
		}
	}

	// A filter with a notify rule hands its listener to the parent, which
	// is only there until init reports ready: load it now.
	if p.seccomp != nil && proc.NoNewPrivileges && p.seccomp.Notify() {
		if err := loadSeccomp(p.seccomp, s); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// prepared is what setupProcess leaves for execProcess.
type prepared struct {
	path       string           // the program, resolved in the container
	seccomp    *seccomp.Program // compiled linux.seccomp, loaded just before exec if not yet
	lateLimits []lateLimit      // memory rlimits whose soft value waits for the exec
}

type lateLimit struct {
	resource int
	limit    unix.Rlimit
}

// execProcess closes what the process must not inherit, loads a seccomp
// filter that was not needed earlier (as late as possible, so it cannot
// break the runtime's own system calls), and execs.
func execProcess(c *Config, p *prepared) error {
	proc := c.Spec.Process
	closeExecFrom(3 + c.PreserveFds)
	umask := 0o022
	if proc.User.Umask != nil {
		umask = int(*proc.User.Umask)
	}
	unix.Umask(umask)
	if a := proc.ExecCPUAffinity; a != nil && a.Final != "" {
		if err := setAffinity("process.execCPUAffinity.final", a.Final); err != nil {
			return err
		}
	}
	if p.seccomp != nil && proc.NoNewPrivileges && !p.seccomp.Notify() {
		if _, err := p.seccomp.Load(); err != nil {
			return fmt.Errorf("linux.seccomp: %w", err)
		}
	}
	// Everything execve needs is allocated before the memory limits go
	// on: nothing may allocate after them.
	argv0, err := syscall.BytePtrFromString(p.path)
	if err != nil {
		return fmt.Errorf("exec %s: %w", proc.Args[0], err)
	}
	argv, err := syscall.SlicePtrFromStrings(proc.Args)
	if err != nil {
		return fmt.Errorf("exec %s: %w", proc.Args[0], err)
	}
	envv, err := syscall.SlicePtrFromStrings(c.Env)
	if err != nil {
		return fmt.Errorf("exec %s: %w", proc.Args[0], err)
	}
	for i := range p.lateLimits {
		l := &p.lateLimits[i]
		if err := unix.Prlimit(0, l.resource, &l.limit, nil); err != nil {
			return fmt.Errorf("process.rlimits: set soft limit of resource %d: %w", l.resource, err)
		}
	}
	_, _, errno := syscall.RawSyscall(syscall.SYS_EXECVE, uintptr(unsafe.Pointer(argv0)),
		uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])))
	return fmt.Errorf("exec %s: %w", proc.Args[0], errno)
}

func seccompConfig(c *Config) *specs.LinuxSeccomp {
	if c.Spec.Linux == nil {
		return nil
	}
	return c.Spec.Linux.Seccomp
}

// loadSeccomp installs linux.seccomp; when it has a notify rule the
// listener goes to the parent, which passes it on to listenerPath.
func loadSeccomp(prog *seccomp.Program, s *syncer) error {
	fd, err := prog.Load()
	if err != nil {
		return fmt.Errorf("linux.seccomp: %w", err)
	}
	if fd < 0 {
		return nil
	}
	defer unix.Close(fd)
	if err := s.enc.Encode(Message{Type: MsgSeccomp}); err != nil {
		return fmt.Errorf("linux.seccomp: report listener: %w", err)
	}
	var msg Message
	if err := s.dec.Decode(&msg); err != nil || msg.Type != MsgSendFd {
		os.Exit(1) // the parent is gone or confused: nobody to report to
	}
	if err := unix.Sendmsg(int(s.sock.Fd()), []byte("seccomp"), unix.UnixRights(fd), nil, 0); err != nil {
		return fmt.Errorf("linux.seccomp: send listener to parent: %w", err)
	}
	return nil
}
