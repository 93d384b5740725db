package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/huskrt/husk/libcontainer/config"
	"github.com/huskrt/husk/libcontainer/exeseal"
	"github.com/huskrt/husk/libcontainer/initproc"
)

// ExecOpts are the command-line choices of `husk exec`.
type ExecOpts struct {
	Root string
	ID   string
	// Process builds the process to run from the container's config
	// (called with the container locked): the config's process with the
	// flags applied, or --process's.
	Process       func(*config.Config) (*specs.Process, error)
	PidFile       string
	ConsoleSocket string
	// Console receives the pty master of a foreground exec -t.
	Console      func(*os.File)
	PreserveFds  int
	Cgroups      []string // --cgroup: [controller:]sub-cgroup of the container's
	IgnorePaused bool
	ForceMemfd   bool
	Stdin        *os.File
	Stdout       *os.File
	Stderr       *os.File
}

// Exec starts a new process in a running (or created) container: it joins
// every namespace and cgroup of the container's init and gets the process
// attributes of its config (or the overrides). It returns the process's
// pid once it has exec'd; the caller (husk, a child subreaper for a
// foreground exec) waits for it.
func Exec(opts ExecOpts) (int, error) {
	h, err := Lock(opts.Root, opts.ID)
	if err != nil {
		return 0, err
	}
	// Held until the process runs: a concurrent delete or kill waits.
	defer h.Close()
	st := h.State.Status(h.Dir)
	switch st {
	case Stopped:
		return 0, errors.New("cannot exec in a stopped container")
	case Paused:
		if !opts.IgnorePaused {
			return 0, errors.New("cannot exec in a paused container (use --ignore-paused to override)")
		}
	case Creating:
		return 0, errors.New("cannot exec in a container that is being created")
	}

	cfg, err := loadConfig(h)
	if err != nil {
		return 0, err
	}
	proc, err := opts.Process(cfg)
	if err != nil {
		return 0, err
	}
	spec := *cfg.Spec
	spec.Process = proc
	// The process gets the same checks as a config's process.
	if err := config.Validate(&config.Config{Bundle: cfg.Bundle, Rootfs: cfg.Rootfs, Spec: &spec}); err != nil {
		return 0, fmt.Errorf("exec process: %w", err)
	}
	if proc.Terminal && opts.ConsoleSocket == "" && opts.Console == nil {
		return 0, errors.New("cannot allocate tty if husk will detach without setting console socket")
	}
	if !proc.Terminal && opts.ConsoleSocket != "" {
		return 0, errors.New("cannot use console socket if husk will not detach or allocate tty")
	}

	// /proc/<pid> opened once, and the start time checked through it: every
	// later lookup through this descriptor reaches the container's init or
	// fails, even if the pid is reused meanwhile.
	procDir, err := openProcDir(h.State.Pid, h.State.PidStart)
	if err != nil {
		return 0, err
	}
	defer procDir.Close()
	nsFiles, err := openNamespaces(procDir, &spec)
	if err != nil {
		return 0, err
	}
	defer func() {
		for _, f := range nsFiles {
			f.file.Close()
		}
	}()
	cgroup, cgSubs, err := execCgroup(&h.State, opts.Cgroups)
	if err != nil {
		return 0, err
	}

	var extra []*os.File
	for i := 0; i < opts.PreserveFds; i++ {
		extra = append(extra, os.NewFile(uintptr(3+i), "preserved"))
	}
	parentSock, childSock, err := socketpair()
	if err != nil {
		return 0, err
	}
	defer parentSock.Close()
	defer childSock.Close()
	sockFd := 3 + len(extra)
	extra = append(extra, childSock)
	// nsenter reopens each namespace through its inherited descriptor.
	var boot []string
	for _, ns := range nsFiles {
		boot = append(boot, fmt.Sprintf("ns=%d:/proc/self/fd/%d", ns.flag, 3+len(extra)))
		extra = append(extra, ns.file)
	}
	ic := &initproc.Config{
		ID:            opts.ID,
		Spec:          &spec,
		Rootfs:        cfg.Rootfs,
		Bundle:        cfg.Bundle,
		NewNamespaces: newNamespaces(&spec),
		FifoFd:        -1,
		ConsoleFd:     -1,
		PreserveFds:   opts.PreserveFds,
		Env:           proc.Env,
		StatusFd:      -1,
		Exec:          true,
		NoNewKeyring:  h.State.NoNewKeyring,
	}
	// A rootless container's user namespace denies setgroups(2): so must
	// the exec'd process's setup.
	if data, err := readAt(procDir, "setgroups"); err == nil && strings.TrimSpace(string(data)) == "deny" {
		ic.SetgroupsDenied = true
	}
	var consoleParent *os.File
	if proc.Terminal {
		var consoleChild *os.File
		consoleParent, consoleChild, err = openConsole(opts.ConsoleSocket)
		if err != nil {
			return 0, err
		}
		if consoleParent != nil {
			defer consoleParent.Close()
		}
		defer consoleChild.Close()
		ic.ConsoleFd = 3 + len(extra)
		extra = append(extra, consoleChild)
	}

	exe, _, err := exeseal.Open(opts.Root, opts.ForceMemfd)
	if err != nil {
		return 0, fmt.Errorf("protect husk binary for exec: %w", err)
	}
	defer exe.Close()
	cmd := &exec.Cmd{
		Path:       "/proc/self/fd/" + strconv.Itoa(int(exe.Fd())),
		Args:       []string{"husk", "init"},
		Env:        []string{initproc.EnvInitPipe + "=" + strconv.Itoa(sockFd)},
		Dir:        "/",
		Stdin:      opts.Stdin,
		Stdout:     opts.Stdout,
		Stderr:     opts.Stderr,
		ExtraFiles: extra,
	}
	// The process becomes our child when the intermediate exits, so that
	// on failure we can reap it; on success, once husk exits, it goes to
	// the next subreaper up (the engine's shim) as it would anyway.
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start husk init: %w", err)
	}
	defer cmd.Wait()
	childSock.Close()
	var pid int
	success := false
	defer func() {
		if !success {
			cmd.Process.Kill()
			cmd.Wait()
			if pid > 0 {
				// With the intermediate gone we (a child subreaper) are the
				// process's parent: reap it, or its zombie holds up the pid
				// namespace's teardown on delete.
				unix.Kill(pid, unix.SIGKILL)
				unix.Wait4(pid, nil, 0, nil)
			}
		}
	}()

	// execCPUAffinity.initial before the cgroup join, as for the init
	// (affinity.go); init applies "final".
	if err := setInitialAffinity(cmd.Process.Pid, proc); err != nil {
		return 0, err
	}
	// Into the container's cgroups before nsenter forks, so the process
	// is never outside them. In a frozen cgroup (--ignore-paused) setup
	// would freeze half-way: the process joins once it has exec'd, and
	// freezes there until resume.
	if st != Paused {
		if err := joinCgroup(cgroup, cgSubs, cmd.Process.Pid); err != nil {
			return 0, err
		}
	}
	if err := sendBootstrapEntries(parentSock, boot); err != nil {
		return 0, err
	}
	if pid, _, err = readBootstrapReplies(parentSock, &spec); err != nil {
		return 0, err
	}
	dec := json.NewDecoder(parentSock)
	enc := json.NewEncoder(parentSock)
	if err := enc.Encode(ic); err != nil {
		return 0, fmt.Errorf("send config to exec init: %w", err)
	}
	if consoleParent != nil {
		master, err := recvConsole(consoleParent, dec)
		if err != nil {
			return 0, err
		}
		opts.Console(master)
	}
	listener := seccompListener(&spec, &h.State, pid, Running)
	if err := waitReady(parentSock, dec, enc, listener); err != nil {
		return 0, err
	}
	if err := enc.Encode(initproc.Message{Type: initproc.MsgGo}); err != nil {
		return 0, fmt.Errorf("resume exec init: %w", err)
	}
	if err := waitExec(dec); err != nil {
		return 0, err
	}
	if st == Paused {
		if err := joinCgroup(cgroup, cgSubs, pid); err != nil {
			return 0, err
		}
	}
	if opts.PidFile != "" {
		if err := writePidFile(opts.PidFile, pid); err != nil {
			return 0, err
		}
	}
	success = true
	return pid, nil
}

// openProcDir opens /proc/<pid> and checks that it is still the process
// started at start.
func openProcDir(pid int, start uint64) (*os.File, error) {
	d, err := os.OpenFile("/proc/"+strconv.Itoa(pid), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, errors.New("cannot exec in a stopped container")
	}
	data, err := readAt(d, "stat")
	s, state, perr := parseStat(data)
	if err != nil || perr != nil || s != start || state == 'Z' || state == 'X' {
		d.Close()
		return nil, errors.New("cannot exec in a stopped container")
	}
	return d, nil
}

func readAt(dir *os.File, name string) ([]byte, error) {
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	var buf []byte
	tmp := make([]byte, 4096)
	for {
		n, err := f.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if err != nil || n == 0 {
			return buf, nil
		}
	}
}

type nsFile struct {
	flag int
	file *os.File
}

// nsProcName is the file of each namespace type in /proc/<pid>/ns.
var nsProcName = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.NetworkNamespace: "net", specs.MountNamespace: "mnt",
	specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.UserNamespace: "user",
	specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
}

// openNamespaces opens every namespace of the container's config through
// the init's /proc directory (a namespace the config joined by path is
// the init's too). One that is also husk's own is left out: joining it
// changes nothing, and setns into one's own user namespace fails.
func openNamespaces(procDir *os.File, spec *specs.Spec) ([]nsFile, error) {
	if spec.Linux == nil {
		return nil, nil
	}
	var out []nsFile
	for _, ns := range spec.Linux.Namespaces {
		name := nsProcName[ns.Type]
		flag, err := config.NamespaceFlag(ns.Type)
		if err != nil || name == "" {
			return closeNS(out), fmt.Errorf("linux.namespaces: unknown type %q", ns.Type)
		}
		fd, err := unix.Openat(int(procDir.Fd()), "ns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
				return closeNS(out), errors.New("cannot exec in a stopped container")
			}
			return closeNS(out), fmt.Errorf("open %s namespace of the container: %w", ns.Type, err)
		}
		var theirs, ours unix.Stat_t
		if unix.Fstat(fd, &theirs) == nil && unix.Stat("/proc/self/ns/"+name, &ours) == nil &&
			theirs.Ino == ours.Ino && theirs.Dev == ours.Dev {
			unix.Close(fd)
			continue
		}
		out = append(out, nsFile{flag: flag, file: os.NewFile(uintptr(fd), "ns/"+name)})
	}
	return out, nil
}

func closeNS(l []nsFile) []nsFile {
	for _, f := range l {
		f.file.Close()
	}
	return nil
}

// sendBootstrapEntries writes an nsenter bootstrap message that only
// joins namespaces (see nsenter/nsenter.c).
func sendBootstrapEntries(sock *os.File, entries []string) error {
	var body []byte
	for _, e := range append(entries, "clone=0") {
		body = append(append(body, e...), 0)
	}
	msg := make([]byte, 4, 4+len(body))
	msg[0], msg[1], msg[2], msg[3] = byte(len(body)), byte(len(body)>>8), byte(len(body)>>16), byte(len(body)>>24)
	if _, err := sock.Write(append(msg, body...)); err != nil {
		return fmt.Errorf("send bootstrap to exec init: %w", err)
	}
	return nil
}

// parseStat returns the start time and state of a /proc/<pid>/stat text.
func parseStat(data []byte) (uint64, byte, error) {
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0, 0, errors.New("parse stat")
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 20 {
		return 0, 0, errors.New("parse stat")
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	return start, f[0][0], err
}
