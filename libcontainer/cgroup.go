package libcontainer

import (
	"errors"
	"fmt"
	"time"

	cg "github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/huskrt/husk/cgroups"
)

// newCgroup works out the container's cgroup and records it in the state
// before anything is created, so a killed create leaves a container that
// `delete --force` removes completely.
func newCgroup(h *Handle, opts CreateOpts) (*cgroups.Cgroup, error) {
	c, err := cgroups.New(opts.Config.Spec, cgroups.Options{ID: opts.ID, Systemd: opts.SystemdCgroup, Rootless: opts.Rootless})
	if err != nil {
		return nil, err
	}
	h.State.Cgroup = c.State()
	if err := h.Save(); err != nil {
		return nil, err
	}
	return c, nil
}

// destroyCgroup kills whatever is left in the cgroup (init first, then
// anything that escaped its pid namespace or had none) and removes it.
func destroyCgroup(c *cgroups.Cgroup, initPid int, start uint64) error {
	if initPid > 0 {
		if err := killAndWait(initPid, start); err != nil {
			return err
		}
	}
	// A cgroup with processes cannot be removed: kill them and wait until
	// the kernel has taken them out (a frozen one is thawed, or SIGKILL
	// would wait forever).
	if c.Exists() {
		c.Resume()
	}
	for i := 0; i < 500; i++ {
		pids, err := c.Pids()
		if err != nil || len(pids) == 0 {
			break
		}
		for _, p := range pids {
			unix.Kill(p, unix.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return c.Destroy()
}

// removeCgroup is delete's part: the processes are gone (or about to go),
// the cgroup follows.
func removeCgroup(st *State) error {
	if st.Cgroup == nil {
		return nil
	}
	c, err := cgroups.Load(st.Cgroup)
	if err != nil {
		return err
	}
	return destroyCgroup(c, 0, 0)
}

// thawCgroup thaws a paused container's cgroup.
func thawCgroup(st *State) {
	if st.Cgroup != nil {
		if c, err := cgroups.Load(st.Cgroup); err == nil {
			c.Resume()
		}
	}
}

// paused reports whether the container's cgroup is frozen. A container
// without a cgroup of its own is checked through its process's v1
// freezer, so one frozen by hand is still reported honestly.
func (st *State) paused() bool {
	if st.Cgroup == nil {
		return frozen(st.Pid)
	}
	c, err := cgroups.Load(st.Cgroup)
	return err == nil && c.Paused()
}

// lockCgroup locks a container that must be running (or paused) and
// opens its cgroup.
func lockCgroup(root, id string) (*Handle, *cgroups.Cgroup, Status, error) {
	h, err := Lock(root, id)
	if err != nil {
		return nil, nil, "", err
	}
	st := h.State.Status(h.Dir)
	if st == Stopped {
		h.Close()
		return nil, nil, st, fmt.Errorf("container %s is not running", id)
	}
	c, err := cgroups.Load(h.State.Cgroup)
	if err != nil {
		h.Close()
		return nil, nil, st, fmt.Errorf("container %s: %w", id, err)
	}
	return h, c, st, nil
}

// Pause freezes a running container.
func Pause(root, id string) error {
	h, c, st, err := lockCgroup(root, id)
	if err != nil {
		return err
	}
	defer h.Close()
	if st != Running && st != Created {
		return errors.New("container not running or created")
	}
	return c.Pause()
}

// Resume thaws a paused container.
func Resume(root, id string) error {
	h, c, st, err := lockCgroup(root, id)
	if err != nil {
		return err
	}
	defer h.Close()
	if st != Paused {
		return errors.New("container not paused")
	}
	return c.Resume()
}

// Update changes a running container's resources and saves them.
func Update(root, id string, r *specs.LinuxResources) error {
	h, c, _, err := lockCgroup(root, id)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := c.Update(r); err != nil {
		return err
	}
	h.State.Cgroup = c.State()
	return h.Save()
}

// Stats reads a running container's cgroup statistics.
func Stats(root, id string) (*cg.Stats, error) {
	_, c, err := openCgroup(root, id)
	if err != nil {
		return nil, err
	}
	return c.Stats()
}

// Processes lists the host pids of a running container's processes.
func Processes(root, id string) ([]int, error) {
	_, c, err := openCgroup(root, id)
	if err != nil {
		return nil, err
	}
	return c.Pids()
}

// Cgroup opens a running container's cgroup without locking (events
// holds it for a long time; the state file is replaced atomically).
func Cgroup(root, id string) (*cgroups.Cgroup, error) {
	_, c, err := openCgroup(root, id)
	return c, err
}

func openCgroup(root, id string) (*Entry, *cgroups.Cgroup, error) {
	e, err := Get(root, id)
	if err != nil {
		return nil, nil, err
	}
	if e.Status == Stopped {
		return nil, nil, fmt.Errorf("container %s is not running", id)
	}
	c, err := cgroups.Load(e.State.Cgroup)
	if err != nil {
		return nil, nil, fmt.Errorf("container %s: %w", id, err)
	}
	return e, c, nil
}

// signalCgroup sends sig to every process in the container's cgroup,
// init last (so its children are not reparented mid-way). The cgroup is
// frozen meanwhile, so nothing forks past the signal (runc does the same).
func signalCgroup(st *State, sig unix.Signal) error {
	c, err := cgroups.Load(st.Cgroup)
	if err != nil {
		return err
	}
	wasPaused := c.Paused()
	if !wasPaused {
		c.Pause()
	}
	// Everything is signalled while frozen: the signals land on thaw,
	// so init cannot exit (its children gone) before it got its own.
	pids, err := c.Pids()
	if err == nil {
		for _, p := range pids {
			if p != st.Pid {
				unix.Kill(p, sig)
			}
		}
		err = signalProcess(st.Pid, st.PidStart, sig)
	}
	if !wasPaused {
		c.Resume()
	}
	return err
}
