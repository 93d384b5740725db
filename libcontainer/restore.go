package libcontainer

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/huskrt/husk/cgroups"
	"github.com/huskrt/husk/libcontainer/hooks"
)

// This file is what the checkpoint package (CRIU) needs of the lifecycle:
// a container entry and cgroup for a restore, filled in when CRIU reports
// the restored init, and removed completely when the restore fails.

// Restoring is a container being restored: its state entry (locked) and
// its cgroup exist, its process does not yet.
type Restoring struct {
	h      *Handle
	cgroup *cgroups.Cgroup
	pid    int
}

// BeginRestore makes the container's state entry (status "creating") and
// its cgroup, as create does before it starts the init. Abort undoes it.
func BeginRestore(opts CreateOpts) (_ *Restoring, retErr error) {
	h, err := newHandle(opts.Root, opts.ID)
	if err != nil {
		return nil, err
	}
	r := &Restoring{h: h}
	defer func() {
		if retErr != nil {
			r.Abort()
		}
	}()
	h.State = creatingState(opts)
	if err := h.Save(); err != nil {
		return nil, err
	}
	if r.cgroup, err = newCgroup(h, opts); err != nil {
		return nil, err
	}
	if err := r.cgroup.Prepare(); err != nil {
		return nil, err
	}
	return r, nil
}

// Dir is the container's state directory.
func (r *Restoring) Dir() string { return r.h.Dir }

// Join puts CRIU (pid) into the container's cgroup with its limits set, so
// that the restored processes start there (runc does the same).
func (r *Restoring) Join(pid int) error {
	if err := r.cgroup.Join(pid); err != nil {
		return err
	}
	return r.cgroup.SetResources()
}

// Restored records the restored init: from now on the container is
// running (no exec fifo).
func (r *Restoring) Restored(pid int, pidFile string) error {
	r.pid = pid
	start, _, err := procStat(pid)
	if err != nil {
		return fmt.Errorf("restored init %d: %w", pid, err)
	}
	r.h.State.Pid, r.h.State.PidStart, r.h.State.Phase = pid, start, Created
	if err := r.h.Save(); err != nil {
		return err
	}
	if pidFile != "" {
		return writePidFile(pidFile, pid)
	}
	return nil
}

// RuntimeHooks runs the prestart and createRuntime hooks once CRIU has
// made the restored init's namespaces (its "setup-namespaces"
// notification), as runc does; pid is that init.
func (r *Restoring) RuntimeHooks(pid int) error {
	st := r.h.State
	st.Pid = pid
	state := st.hookState(specs.StateCreated)
	for _, kind := range []string{hooks.Prestart, hooks.CreateRuntime} {
		if err := hooks.Run(kind, hooks.List(st.Hooks, kind), state); err != nil {
			return err
		}
	}
	return nil
}

// Done releases the lock of a restored container.
func (r *Restoring) Done() { r.h.Close() }

// Abort removes everything the restore made: the restored processes (by
// their cgroup: CRIU may have restored some of the tree), the cgroup and
// the state entry.
func (r *Restoring) Abort() {
	if r.pid > 0 {
		unix.Kill(r.pid, unix.SIGKILL)
	}
	if r.cgroup != nil {
		destroyCgroup(r.cgroup, r.pid, r.h.State.PidStart)
	}
	r.h.Remove()
	r.h.Close()
}

// Destroy removes a checkpointed container (CRIU has killed its
// processes) the way `delete` does, while the caller holds its lock:
// what is left in the cgroup, the cgroup, the state entry; then the
// poststop hooks (runc destroys the container after a dump the same way).
func (h *Handle) Destroy(warn func(error)) error {
	if err := killAndWait(h.State.Pid, h.State.PidStart); err != nil {
		return err
	}
	return h.removeStopped(warn)
}

// CgroupPaths are the container's cgroup directories by controller ("" is
// the cgroup v2 one).
func (st *State) CgroupPaths() map[string]string {
	if st.Cgroup == nil {
		return nil
	}
	return st.Cgroup.Paths
}
