package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/huskrt/husk/cgroups"
)

// Status is a container's lifecycle state as runc reports it.
type Status string

const (
	Creating Status = "creating"
	Created  Status = "created"
	Running  Status = "running"
	Paused   Status = "paused"
	Stopped  Status = "stopped"
)

// State is what husk keeps in <root>/<id>/state.json. The first fields are
// runc's `state` output; the rest is what husk needs to find the process
// again and is not printed.
type State struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`

	// PidStart is the init process's start time (field 22 of
	// /proc/<pid>/stat); with Pid it identifies the process even after
	// the pid is reused.
	PidStart uint64 `json:"pidStart"`
	// Phase is Creating until the init process is ready and Created after.
	// Running/Stopped are never stored: they are derived from the process.
	Phase Status `json:"phase"`
	// OwnPidNS is true when the container has its own pid namespace, so
	// `kill --all` can find its processes by namespace.
	OwnPidNS bool `json:"ownPidNS"`
	// Hooks are the config's hooks as they were at create: start runs
	// the poststart ones and delete the poststop ones, and a later edit
	// of config.json must not change them.
	Hooks *specs.Hooks `json:"hooks,omitempty"`
	// Cgroup is the container's cgroup (driver config and paths), saved
	// before the cgroup is created so that delete always finds it.
	Cgroup *cgroups.State `json:"cgroup,omitempty"`
	// NoNewKeyring is create's --no-new-keyring: exec'd processes then
	// stay in their caller's session keyring too, as the init did.
	NoNewKeyring bool `json:"noNewKeyring,omitempty"`
}

const (
	stateFile = "state.json"
	fifoName  = "exec.fifo"
	// statusName is the fifo on which init tells `start` why it did not
	// exec (only for containers with startContainer or poststart hooks).
	statusName = "exec.status"
)

var ErrNotExist = errors.New("container does not exist")

// Handle is an open, locked container directory. Every command that
// changes a container holds one, so concurrent commands on one container
// run one after the other.
type Handle struct {
	ID    string
	Dir   string
	dirFd *os.File
	State State
}

// Lock opens and locks <root>/<id>. It fails with ErrNotExist when the
// container is not there, including when a concurrent delete removed it
// while we waited for the lock.
func Lock(root, id string) (*Handle, error) {
	dir := filepath.Join(root, id)
	f, err := os.OpenFile(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("container %s: %w", id, ErrNotExist)
		}
		return nil, fmt.Errorf("open state dir %s: %w", dir, err)
	}
	if err := flock(f, unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock state dir %s: %w", dir, err)
	}
	h := &Handle{ID: id, Dir: dir, dirFd: f}
	// A delete that held the lock before us removed the directory.
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Nlink == 0 {
		h.Close()
		return nil, fmt.Errorf("container %s: %w", id, ErrNotExist)
	}
	if err := readState(dir, &h.State); err != nil {
		if os.IsNotExist(err) {
			// A create killed before its first write leaves an empty
			// directory; it behaves as a stopped container.
			h.State = State{ID: id}
			return h, nil
		}
		h.Close()
		return nil, err
	}
	return h, nil
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			return err
		}
	}
}

// newHandle creates <root>/<id> and locks it. The mkdir is the atomic
// "id is taken" test.
func newHandle(root, id string) (*Handle, error) {
	if err := os.MkdirAll(root, 0o711); err != nil {
		return nil, fmt.Errorf("create state root %s: %w", root, err)
	}
	dir := filepath.Join(root, id)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if os.IsExist(err) {
			return nil, fmt.Errorf("container with id %s already exists", id)
		}
		return nil, fmt.Errorf("create state dir %s: %w", dir, err)
	}
	f, err := os.OpenFile(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("open state dir %s: %w", dir, err)
	}
	if err := flock(f, unix.LOCK_EX); err != nil {
		f.Close()
		os.Remove(dir)
		return nil, fmt.Errorf("lock state dir %s: %w", dir, err)
	}
	return &Handle{ID: id, Dir: dir, dirFd: f}, nil
}

// Close releases the lock.
func (h *Handle) Close() {
	if h.dirFd != nil {
		h.dirFd.Close()
		h.dirFd = nil
	}
}

// Save writes state.json atomically: a reader sees the old or the new
// state, never a torn one.
func (h *Handle) Save() error {
	data, err := json.Marshal(&h.State)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(h.Dir, ".state-")
	if err != nil {
		return fmt.Errorf("write state in %s: %w", h.Dir, err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(h.Dir, stateFile))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write state in %s: %w", h.Dir, err)
	}
	return nil
}

// Remove deletes the container's directory. The lock stays held until
// Close, and waiters then see the directory gone.
func (h *Handle) Remove() error {
	if err := os.RemoveAll(h.Dir); err != nil {
		return fmt.Errorf("remove state dir %s: %w", h.Dir, err)
	}
	return nil
}

func readState(dir string, st *State) error {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, st); err != nil {
		return fmt.Errorf("read %s: %w", filepath.Join(dir, stateFile), err)
	}
	return nil
}

// ReadState reads a container's state without locking, for `state` and
// `list`: state.json is replaced atomically, so this never sees a torn file.
func ReadState(root, id string) (*State, error) {
	var st State
	if err := readState(filepath.Join(root, id), &st); err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("container %s: %w", id, ErrNotExist)
		}
		return nil, err
	}
	return &st, nil
}

// Status derives the container's status from its init process: stopped
// when the process is gone (or its pid now belongs to another process),
// created while it waits for `start`, running after.
func (st *State) Status(dir string) Status {
	if st.Pid <= 0 || !processAlive(st.Pid, st.PidStart) {
		return Stopped
	}
	if st.Phase == Creating {
		return Creating
	}
	if _, err := os.Lstat(filepath.Join(dir, fifoName)); err == nil {
		return Created
	}
	if st.paused() {
		return Paused
	}
	return Running
}

// processAlive reports whether pid is running and is the process that was
// started at start (so a reused pid is not mistaken for the container).
// A zombie counts as gone.
func processAlive(pid int, start uint64) bool {
	s, state, err := procStat(pid)
	if err != nil {
		return false
	}
	return state != 'Z' && state != 'X' && (start == 0 || s == start)
}

// procStat returns the start time and state letter from /proc/<pid>/stat.
func procStat(pid int) (start uint64, state byte, err error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name may contain spaces and parentheses: the fields
	// after it start after the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+2:])
	// fields[0] is field 3 (state); start time is field 22.
	if len(fields) < 20 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	start, err = strconv.ParseUint(fields[19], 10, 64)
	return start, fields[0][0], err
}

// frozen reports whether the process is stopped by a cgroup freezer. The
// cgroup code (a later part of husk) owns pausing; until then nothing is
// ever frozen by husk, but a container frozen by hand is still reported
// honestly.
func frozen(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || parts[1] != "freezer" {
			continue
		}
		st, err := os.ReadFile("/sys/fs/cgroup/freezer" + parts[2] + "/freezer.state")
		return err == nil && strings.TrimSpace(string(st)) == "FROZEN"
	}
	return false
}
