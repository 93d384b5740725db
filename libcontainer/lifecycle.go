package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Start lets a created container's init exec the user's process.
func Start(root, id string) error {
	h, err := Lock(root, id)
	if err != nil {
		return err
	}
	defer h.Close()
	switch st := h.State.Status(h.Dir); st {
	case Created:
	case Stopped:
		return errors.New("cannot start a container that has stopped")
	case Running, Paused:
		return errors.New("cannot start an already running container")
	default:
		return fmt.Errorf("cannot start a container in the %s state", st)
	}
	// With startContainer or poststart hooks, init reports on a second
	// fifo whether it got as far as exec.
	status, err := openStatusFifo(h.Dir)
	if err != nil {
		return err
	}
	if status != nil {
		defer status.Close()
	}
	fifo := filepath.Join(h.Dir, fifoName)
	// Non-blocking: with init gone there is no reader and the open fails
	// with ENXIO instead of hanging.
	f, err := os.OpenFile(fifo, os.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENXIO) {
			return errors.New("cannot start a container that has stopped")
		}
		return fmt.Errorf("open exec fifo %s: %w", fifo, err)
	}
	_, err = f.Write([]byte{0})
	f.Close()
	if err != nil {
		return fmt.Errorf("write exec fifo %s: %w", fifo, err)
	}
	// The fifo's absence is what makes the container "running".
	if err := os.Remove(fifo); err != nil {
		return fmt.Errorf("remove exec fifo %s: %w", fifo, err)
	}
	if status != nil {
		// A startContainer hook or the exec failed: init has exited,
		// the container is stopped.
		if err := waitStarted(status); err != nil {
			return err
		}
		if err := runPoststart(&h.State); err != nil {
			// runtime-spec 1.2+: a failing poststart hook is an error
			// and the container is stopped; delete removes it.
			killAndWait(h.State.Pid, h.State.PidStart)
			return err
		}
	}
	return nil
}

// Kill sends sig to the container's init, or with all to every process in
// its pid namespace.
func Kill(root, id string, sig unix.Signal, all bool) error {
	h, err := Lock(root, id)
	if err != nil {
		return err
	}
	defer h.Close()
	if st := h.State.Status(h.Dir); st == Stopped {
		return errors.New("container not running")
	}
	if all && h.State.Cgroup != nil && h.State.Cgroup.Config != nil {
		return signalCgroup(&h.State, sig)
	}
	if all && h.State.OwnPidNS && sig != unix.SIGKILL {
		return signalNamespace(h.State.Pid, h.State.PidStart, sig)
	}
	// SIGKILL to the init of a pid namespace kills everything in it.
	return signalProcess(h.State.Pid, h.State.PidStart, sig)
}

// signalProcess signals pid through a pidfd after checking its start
// time, so a pid reused by another process is never signalled.
func signalProcess(pid int, start uint64, sig unix.Signal) error {
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return errors.New("container not running")
		}
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pfd)
	if !processAlive(pid, start) {
		return errors.New("container not running")
	}
	if err := unix.PidfdSendSignal(pfd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return errors.New("container not running")
		}
		return fmt.Errorf("send signal %d to pid %d: %w", sig, pid, err)
	}
	return nil
}

// signalNamespace signals every process in init's pid namespace, init
// last (so its children are not reparented mid-way).
func signalNamespace(initPid int, start uint64, sig unix.Signal) error {
	for _, pid := range pidsInNamespaceOf(initPid) {
		if pid != initPid {
			unix.Kill(pid, sig)
		}
	}
	return signalProcess(initPid, start, sig)
}

// pidsInNamespaceOf lists the host pids of the processes that share
// pid's pid namespace.
func pidsInNamespaceOf(pid int) []int {
	target, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/pid")
	if err != nil {
		return nil
	}
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ns, err := os.Readlink("/proc/" + e.Name() + "/ns/pid"); err == nil && ns == target {
			out = append(out, p)
		}
	}
	return out
}

// Delete removes a container. A running one needs force, which kills it
// first; a created one is killed without (as runc does).
func Delete(root, id string, force bool) error {
	return DeleteWarn(root, id, force, nil)
}

// DeleteWarn is Delete with the poststop hooks' failures (warnings, by
// the spec) passed to warn instead of printed on stderr.
func DeleteWarn(root, id string, force bool, warn func(error)) error {
	h, err := Lock(root, id)
	if err != nil {
		if errors.Is(err, ErrNotExist) && force {
			return nil
		}
		return err
	}
	defer h.Close()
	st := h.State.Status(h.Dir)
	switch st {
	case Stopped:
	case Creating:
		// Creating under our lock means the create was killed: what is
		// left is debris, whatever runs of it goes.
		if err := killAndWait(h.State.Pid, h.State.PidStart); err != nil {
			return err
		}
	default:
		// A created container counts as not stopped, as the runtime spec
		// says (its init exists, waiting for start); runc and crun delete
		// it anyway, but the engines never rely on that: podman and CRI-O
		// always pass --force, containerd kills a created task before
		// deleting it.
		if !force {
			return fmt.Errorf("cannot delete container %s that is not stopped: %s", id, st)
		}
		if st == Paused {
			thawCgroup(&h.State) // a v1 frozen task ignores SIGKILL until thawed
		}
		if err := killAndWait(h.State.Pid, h.State.PidStart); err != nil {
			return err
		}
	}
	return h.removeStopped(warn)
}

// removeStopped removes a container whose processes are gone, while the
// caller holds its lock: what is left of its cgroup, its state entry,
// then the poststop hooks.
func (h *Handle) removeStopped(warn func(error)) error {
	if err := removeCgroup(&h.State); err != nil {
		return err
	}
	if err := h.Remove(); err != nil {
		return err
	}
	runPoststop(&h.State, warn)
	return nil
}

// killAndWait SIGKILLs the init (and with it its pid namespace) and waits
// until it has exited, so nothing of the container outlives delete.
func killAndWait(pid int, start uint64) error {
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil // already gone
	}
	defer unix.Close(pfd)
	if !processAlive(pid, start) {
		return nil
	}
	if err := unix.PidfdSendSignal(pfd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill container init %d: %w", pid, err)
	}
	// A pidfd becomes readable when the process exits.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		fds := []unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 1000)
		if err == nil && n > 0 {
			return nil
		}
	}
	return fmt.Errorf("container init %d did not exit after SIGKILL", pid)
}

// Entry is one container as `list` and `state` show it.
type Entry struct {
	State
	Status Status
	Owner  string
}

// Get returns one container's state and status without locking.
func Get(root, id string) (*Entry, error) {
	st, err := ReadState(root, id)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, id)
	e := &Entry{State: *st, Status: st.Status(dir)}
	var fi unix.Stat_t
	if unix.Stat(dir, &fi) == nil {
		e.Owner = userName(fi.Uid)
	}
	return e, nil
}

// List returns every container under root, sorted by id. A directory
// without a readable state (a create killed at its very start) is shown
// as stopped, so it can be found and deleted.
func List(root string) ([]*Entry, error) {
	dirs, err := os.ReadDir(root)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("read state root %s: %w", root, err)
	}
	var out []*Entry
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		e, err := Get(root, d.Name())
		if err != nil {
			e = &Entry{State: State{ID: d.Name()}, Status: Stopped}
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// userName maps a uid to a name from /etc/passwd, or "#uid" as runc does.
func userName(uid uint32) string {
	data, err := os.ReadFile("/etc/passwd")
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.SplitN(line, ":", 4)
			if len(f) >= 3 && f[2] == strconv.Itoa(int(uid)) {
				return f[0]
			}
		}
	}
	return "#" + strconv.Itoa(int(uid))
}
