// Package libcontainer is the lifecycle side of husk: it turns a validated
// config into a container (create/start/run), and finds, signals and
// removes existing ones through their state directory.
package libcontainer

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/huskrt/husk/libcontainer/config"
	"github.com/huskrt/husk/libcontainer/exeseal"
	"github.com/huskrt/husk/libcontainer/hooks"
	"github.com/huskrt/husk/libcontainer/initproc"
	"github.com/huskrt/husk/libcontainer/terminal"
)

// CreateOpts are the command-line choices of create and run.
type CreateOpts struct {
	Root          string
	ID            string
	Config        *config.Config
	PidFile       string
	ConsoleSocket string // --console-socket: where the pty master goes
	PreserveFds   int    // --preserve-fds
	NoPivot       bool
	NoNewKeyring  bool // --no-new-keyring
	SystemdCgroup bool // --systemd-cgroup
	Rootless      bool // cgroups may be read-only: no cgroup is no error without limits
	// StartNow runs the process at once (run) instead of leaving it
	// waiting for `start`.
	StartNow bool
	// Console receives the pty master when process.terminal is set and no
	// ConsoleSocket is given (foreground run).
	Console func(*os.File)
	// ForceMemfd uses the memfd copy instead of the overlayfs view of the
	// binary (tests of the fallback).
	ForceMemfd bool
	Stdin      *os.File
	Stdout     *os.File
	Stderr     *os.File
	// Warn reports what the spec calls warnings (a failing poststop hook
	// while a failed create is undone); nil prints them on stderr.
	Warn func(error)
	// NotifySocket is the host's NOTIFY_SOCKET: the container gets a proxy
	// socket (see notify.go).
	NotifySocket string
}

// Container is a container create made: what run needs to wait for it.
type Container struct {
	ID  string
	Dir string
	Pid int
	// Notify is the sd_notify proxy of a run with NOTIFY_SOCKET (nil
	// otherwise); the caller forwards and closes it.
	Notify *NotifyProxy
}

// Create makes a container from opts and leaves its init waiting for
// `start` (or running, with StartNow). On any error it leaves nothing
// behind: the init is killed and the state directory removed. If husk
// itself is killed meanwhile, the init exits on its own (it sees the sync
// socket close) and `delete --force` removes the directory.
func Create(opts CreateOpts) (_ *Container, retErr error) {
	spec := opts.Config.Spec
	if spec.Process.Terminal && opts.ConsoleSocket == "" && opts.Console == nil {
		return nil, errors.New("cannot allocate tty if husk will detach without setting console socket")
	}
	if !spec.Process.Terminal && opts.ConsoleSocket != "" {
		return nil, errors.New("cannot use console socket if husk will not detach or allocate tty")
	}
	h, err := newHandle(opts.Root, opts.ID)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	var initPid int
	defer func() {
		if retErr != nil {
			if initPid > 0 && hasHooks(spec.Hooks, hooks.Poststop) {
				// The spec's lifecycle goes on at "destroy", then the
				// poststop hooks, which must find the container gone.
				killAndWait(initPid, 0)
				h.Remove()
				runPoststop(&h.State, opts.Warn)
				return
			}
			if initPid > 0 {
				unix.Kill(initPid, unix.SIGKILL)
			}
			h.Remove()
		}
	}()

	h.State = creatingState(opts)
	if err := h.Save(); err != nil {
		return nil, err
	}
	if err := saveConfig(h.Dir, spec); err != nil {
		return nil, err
	}
	cgroup, err := newCgroup(h, opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			destroyCgroup(cgroup, initPid, h.State.PidStart)
		}
	}()

	// Descriptors for init, in order: the preserved ones keep their
	// numbers (3, 4, ...), husk's own follow.
	var extra []*os.File
	for i := 0; i < opts.PreserveFds; i++ {
		extra = append(extra, os.NewFile(uintptr(3+i), "preserved"))
	}
	parentSock, childSock, err := socketpair()
	if err != nil {
		return nil, err
	}
	defer parentSock.Close()
	defer childSock.Close()
	sockFd := 3 + len(extra)
	extra = append(extra, childSock)

	ic := &initproc.Config{
		ID:            opts.ID,
		Spec:          spec,
		Rootfs:        opts.Config.Rootfs,
		Bundle:        opts.Config.Bundle,
		NewNamespaces: newNamespaces(spec),
		NoPivot:       opts.NoPivot,
		NoNewKeyring:  opts.NoNewKeyring,
		FifoFd:        -1,
		ConsoleFd:     -1,
		PreserveFds:   opts.PreserveFds,
		Env:           spec.Process.Env,
	}
	var notify *NotifyProxy
	if opts.NotifySocket != "" {
		ns, err := notifySpec(spec, h.Dir)
		if err != nil {
			return nil, err
		}
		ic.Spec, ic.Env = ns, ns.Process.Env
		if opts.StartNow {
			if notify, err = listenNotify(h.Dir, opts.NotifySocket); err != nil {
				return nil, err
			}
			defer func() {
				if retErr != nil {
					notify.Close()
				}
			}()
		}
	}
	if !opts.StartNow {
		fifo, err := makeFifo(h.Dir)
		if err != nil {
			return nil, err
		}
		defer fifo.Close()
		ic.FifoFd = 3 + len(extra)
		extra = append(extra, fifo)
	}
	ic.StatusFd = -1
	if !opts.StartNow && hasHooks(spec.Hooks, hooks.StartContainer, hooks.Poststart) {
		status, err := makeStatusFifo(h.Dir)
		if err != nil {
			return nil, err
		}
		defer status.Close()
		ic.StatusFd = 3 + len(extra)
		extra = append(extra, status)
	}
	var consoleParent *os.File
	if spec.Process.Terminal {
		var consoleChild *os.File
		consoleParent, consoleChild, err = openConsole(opts.ConsoleSocket)
		if err != nil {
			return nil, err
		}
		if consoleParent != nil {
			defer consoleParent.Close()
		}
		defer consoleChild.Close()
		ic.ConsoleFd = 3 + len(extra)
		extra = append(extra, consoleChild)
	}

	// The sealed binary and the cgroup are independent and each takes a
	// few milliseconds of system calls: make them at the same time.
	cgroupReady := make(chan error, 1)
	go func() { cgroupReady <- cgroup.Prepare() }()
	exe, method, err := exeseal.Open(opts.Root, opts.ForceMemfd)
	if cgErr := <-cgroupReady; cgErr != nil {
		if exe != nil {
			exe.Close()
		}
		return nil, cgErr
	}
	if err != nil {
		return nil, fmt.Errorf("protect husk binary for init: %w", err)
	}
	defer exe.Close()
	_ = method

	cmd := &exec.Cmd{
		Path:       "/proc/self/fd/" + strconv.Itoa(int(exe.Fd())),
		Args:       []string{"husk", "init"},
		Env:        []string{initproc.EnvInitPipe + "=" + strconv.Itoa(sockFd)},
		Dir:        opts.Config.Bundle,
		Stdin:      opts.Stdin,
		Stdout:     opts.Stdout,
		Stderr:     opts.Stderr,
		ExtraFiles: extra,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start husk init: %w", err)
	}
	// The intermediate process exits as soon as it has forked the init;
	// reap it whatever happens.
	defer cmd.Wait()
	childSock.Close()
	if err := setInitialAffinity(cmd.Process.Pid, spec.Process); err != nil {
		cmd.Process.Kill()
		return nil, err
	}
	// Join the cgroup while nsenter still waits for its bootstrap: init
	// and everything it forks inherit it, and the cgroup namespace
	// nsenter unshares is rooted at it.
	if err := cgroup.Join(cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		return nil, err
	}

	if err := sendBootstrap(parentSock, spec); err != nil {
		cmd.Process.Kill()
		return nil, err
	}
	initPid, ic.SetgroupsDenied, err = readBootstrapReplies(parentSock, spec)
	if err != nil {
		cmd.Process.Kill()
		return nil, err
	}
	h.State.Pid = initPid
	if h.State.PidStart, _, err = procStat(initPid); err != nil {
		return nil, fmt.Errorf("container init %d exited early: %w", initPid, err)
	}
	// Record the pid before init does anything else, so a killed create
	// leaves a container `delete --force` can find.
	if err := h.Save(); err != nil {
		return nil, err
	}

	// Idmapped mounts are prepared here, where the privilege is.
	trees, err := idmappedMounts(spec, opts.Config.Bundle, initPid)
	if err != nil {
		return nil, err
	}
	defer closeTrees(trees)
	ic.IDMapMounts = treeOrder(trees)

	dec := json.NewDecoder(parentSock)
	enc := json.NewEncoder(parentSock)
	if spec.Hooks != nil {
		ic.HookState = h.State.hookState(specs.StateCreated)
	}
	if err := enc.Encode(ic); err != nil {
		return nil, fmt.Errorf("send config to init: %w", err)
	}
	if err := sendTrees(dec, parentSock, trees, ic.IDMapMounts); err != nil {
		return nil, err
	}
	if err := runtimeCreateHooks(&h.State, dec, enc); err != nil {
		return nil, err
	}
	if consoleParent != nil {
		master, err := terminal.RecvFd(consoleParent)
		if err != nil {
			return nil, fmt.Errorf("receive pty master from init: %w", readInitError(dec, err))
		}
		opts.Console(master)
	}
	// A seccomp notify listener comes on the way (execsync.go).
	if err := waitReady(parentSock, dec, enc, seccompListener(spec, &h.State, initPid, Creating)); err != nil {
		return nil, err
	}
	// Limits go on now, as with runc: init's own threads are started.
	if err := cgroup.SetResources(); err != nil {
		return nil, err
	}
	if opts.PidFile != "" {
		if err := writePidFile(opts.PidFile, initPid); err != nil {
			return nil, err
		}
	}
	h.State.Phase = Created
	if err := h.Save(); err != nil {
		return nil, err
	}
	if err := enc.Encode(initproc.Message{Type: initproc.MsgGo}); err != nil {
		return nil, fmt.Errorf("resume init: %w", err)
	}
	if opts.StartNow {
		// Wait for init to exec (it closes its end of the socket then), so
		// that `run -d` returns with the user's process running.
		if err := waitExec(dec); err != nil {
			return nil, err
		}
		if err := runPoststart(&h.State); err != nil {
			return nil, err
		}
	}
	return &Container{ID: opts.ID, Dir: h.Dir, Pid: initPid, Notify: notify}, nil
}

// creatingState is the state a new container (create, or restore) is
// saved with before anything of it exists.
func creatingState(opts CreateOpts) State {
	spec := opts.Config.Spec
	return State{
		OCIVersion:   spec.Version,
		ID:           opts.ID,
		Bundle:       opts.Config.Bundle,
		Rootfs:       opts.Config.Rootfs,
		Created:      time.Now().UTC(),
		Annotations:  spec.Annotations,
		Phase:        Creating,
		OwnPidNS:     config.NewNamespace(spec, specs.PIDNamespace),
		Hooks:        spec.Hooks,
		NoNewKeyring: opts.NoNewKeyring,
	}
}

// waitExec returns when init has exec'd (EOF on the sync socket) or
// reports the error that stopped it.
func waitExec(dec *json.Decoder) error {
	var msg initproc.Message
	err := dec.Decode(&msg)
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("wait for container process: %w", err)
	}
	if msg.Type == initproc.MsgError {
		return errors.New(msg.Error)
	}
	return fmt.Errorf("unexpected message %q from init", msg.Type)
}

// expectMsg reads init's next message, which must be of type want; an
// error init reports, or a broken socket, comes back as the error.
func expectMsg(dec *json.Decoder, want string) error {
	var msg initproc.Message
	if err := dec.Decode(&msg); err != nil {
		return readInitError(nil, err)
	}
	switch msg.Type {
	case want:
		return nil
	case initproc.MsgError:
		return errors.New(msg.Error)
	}
	return fmt.Errorf("unexpected message %q from init", msg.Type)
}

// readInitError turns a broken sync socket into the error init sent
// before it died, when there is one.
func readInitError(dec *json.Decoder, err error) error {
	if dec != nil {
		var msg initproc.Message
		if dec.Decode(&msg) == nil && msg.Type == initproc.MsgError {
			return errors.New(msg.Error)
		}
	}
	if err == io.EOF || errors.Is(err, syscall.ECONNRESET) {
		return errors.New("container init exited before it was ready")
	}
	return fmt.Errorf("read from init: %w", err)
}

// newNamespaces lists the namespaces the container gets of its own
// (listed without a path).
func newNamespaces(spec *specs.Spec) []specs.LinuxNamespaceType {
	var out []specs.LinuxNamespaceType
	if spec.Linux == nil {
		return nil
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Path == "" {
			out = append(out, ns.Type)
		}
	}
	return out
}

// sendBootstrap writes the message nsenter reads (see nsenter/nsenter.c).
func sendBootstrap(sock *os.File, spec *specs.Spec) error {
	var body []byte
	add := func(s string) { body = append(append(body, s...), 0) }
	clone := 0
	if spec.Linux != nil {
		for _, ns := range spec.Linux.Namespaces {
			flag, err := config.NamespaceFlag(ns.Type)
			if err != nil {
				return err
			}
			if ns.Path == "" {
				clone |= flag
			} else {
				add(fmt.Sprintf("ns=%d:%s", flag, ns.Path))
			}
		}
		if len(spec.Linux.TimeOffsets) > 0 {
			var b strings.Builder
			for _, clock := range []string{"monotonic", "boottime"} {
				if off, ok := spec.Linux.TimeOffsets[clock]; ok {
					fmt.Fprintf(&b, "%s %d %d\n", clock, off.Secs, off.Nanosecs)
				}
			}
			add("timens=" + b.String())
		}
	}
	add("clone=" + strconv.Itoa(clone))
	msg := binary.LittleEndian.AppendUint32(nil, uint32(len(body)))
	if _, err := sock.Write(append(msg, body...)); err != nil {
		return fmt.Errorf("send bootstrap to init: %w", err)
	}
	return nil
}

// Records nsenter sends (see nsenter/nsenter.c).
const (
	msgUsermap = 1
	msgPid     = 2
	msgError   = 3
)

// readBootstrapReplies serves nsenter until it reports the init pid:
// it writes the user namespace's id maps when asked, and turns a failure
// into an error.
func readBootstrapReplies(sock *os.File, spec *specs.Spec) (pid int, setgroupsDenied bool, err error) {
	// Without CAP_SETGID (rootless) the kernel takes a gid_map only after
	// setgroups(2) is denied in the new namespace.
	denySetgroups := os.Geteuid() != 0
	for {
		var hdr [12]byte
		if _, err := io.ReadFull(sock, hdr[:]); err != nil {
			return 0, false, errors.New("container init exited before reporting its pid")
		}
		typ := binary.LittleEndian.Uint32(hdr[0:])
		val := int(int32(binary.LittleEndian.Uint32(hdr[4:])))
		text := make([]byte, binary.LittleEndian.Uint32(hdr[8:]))
		if _, err := io.ReadFull(sock, text); err != nil {
			return 0, false, errors.New("container init exited before reporting its pid")
		}
		switch typ {
		case msgUsermap:
			if denySetgroups {
				p := fmt.Sprintf("/proc/%d/setgroups", val)
				if err := os.WriteFile(p, []byte("deny"), 0); err != nil {
					return 0, false, fmt.Errorf("rootless: write %s: %w", p, err)
				}
				setgroupsDenied = true
			}
			werr := writeIDMaps(val, spec.Linux)
			ack := []byte{0}
			if werr != nil {
				ack[0] = 1
			}
			if _, err := sock.Write(ack); err != nil {
				return 0, false, fmt.Errorf("ack user namespace maps: %w", err)
			}
			if werr != nil {
				return 0, false, werr
			}
		case msgPid:
			return val, setgroupsDenied, nil
		case msgError:
			return 0, false, fmt.Errorf("container init: %s", text)
		default:
			return 0, false, fmt.Errorf("unknown message %d from nsenter", typ)
		}
	}
}

// writeIDMaps writes a new user namespace's uid_map and gid_map.
func writeIDMaps(pid int, l *specs.Linux) error {
	write := func(file string, maps []specs.LinuxIDMapping) error {
		var b strings.Builder
		for _, m := range maps {
			fmt.Fprintf(&b, "%d %d %d\n", m.ContainerID, m.HostID, m.Size)
		}
		p := fmt.Sprintf("/proc/%d/%s", pid, file)
		if err := os.WriteFile(p, []byte(b.String()), 0); err != nil {
			return fmt.Errorf("write %s for linux.%sMappings: %w", p, file[:3], err)
		}
		return nil
	}
	if err := write("uid_map", l.UIDMappings); err != nil {
		return err
	}
	return write("gid_map", l.GIDMappings)
}

// openConsole returns the end init sends the pty master over (a
// connection to --console-socket, or one end of a socketpair) and, for a
// foreground tty (no socket given), the end husk receives it on.
func openConsole(socketPath string) (parent, child *os.File, err error) {
	if socketPath != "" {
		child, err = dialConsole(socketPath)
		return nil, child, err
	}
	return socketpair()
}

func socketpair() (*os.File, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "sync-parent"), os.NewFile(uintptr(fds[1]), "sync-child"), nil
}

// makeFifo creates the exec fifo init blocks on until `start`, and opens
// it for init. Init reads (a read blocks until start writes); init's
// descriptor is read-write so that opening it does not block.
func makeFifo(dir string) (*os.File, error) {
	p := filepath.Join(dir, fifoName)
	if err := unix.Mkfifo(p, 0o600); err != nil {
		return nil, fmt.Errorf("create exec fifo %s: %w", p, err)
	}
	f, err := os.OpenFile(p, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open exec fifo %s: %w", p, err)
	}
	return f, nil
}

// dialConsole connects to the engine's --console-socket. Plain syscalls:
// the net package would add a megabyte to every husk process.
func dialConsole(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("connect to console socket %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// writePidFile writes the pid atomically (engines poll the file and must
// never read it half written).
func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(abs), "."+filepath.Base(abs)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("write pid file %s: %w", path, err)
	}
	if err := os.Rename(tmp, abs); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write pid file %s: %w", path, err)
	}
	return nil
}
