package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/huskrt/husk/libcontainer/hooks"
	"github.com/huskrt/husk/libcontainer/initproc"
)

// hookState is the state JSON the hooks read on stdin.
func (st *State) hookState(status specs.ContainerState) []byte {
	pid := st.Pid
	if status == specs.StateStopped {
		pid = 0 // as `state` shows a stopped container
	}
	return hooks.State(st.OCIVersion, st.ID, status, pid, st.Bundle, st.Annotations)
}

// hasHooks reports whether any of the kinds has a hook.
func hasHooks(h *specs.Hooks, kinds ...string) bool {
	for _, k := range kinds {
		if len(hooks.List(h, k)) > 0 {
			return true
		}
	}
	return false
}

// runtimeCreateHooks serves init's MsgHooks: it runs the prestart, then
// the createRuntime hooks in the runtime namespace while init waits
// before switching its root, and lets init go on.
func runtimeCreateHooks(st *State, dec *json.Decoder, enc *json.Encoder) error {
	if !hasHooks(st.Hooks, hooks.Prestart, hooks.CreateRuntime) {
		return nil
	}
	if err := expectMsg(dec, initproc.MsgHooks); err != nil {
		return err
	}
	state := st.hookState(specs.StateCreated)
	for _, kind := range []string{hooks.Prestart, hooks.CreateRuntime} {
		if err := hooks.Run(kind, hooks.List(st.Hooks, kind), state); err != nil {
			return err
		}
	}
	if err := enc.Encode(initproc.Message{Type: initproc.MsgGo}); err != nil {
		return fmt.Errorf("resume init after hooks: %w", err)
	}
	return nil
}

// runPoststart runs the poststart hooks of a container whose process has
// just been exec'd. Since runtime-spec 1.2 a failure is an error and the
// container is stopped (the caller's job).
func runPoststart(st *State) error {
	return hooks.Run(hooks.Poststart, hooks.List(st.Hooks, hooks.Poststart), st.hookState(specs.StateRunning))
}

// runPoststop runs every poststop hook after the container is gone; a
// failure is only a warning (runtime-spec: the remaining hooks and the
// lifecycle go on).
func runPoststop(st *State, warn func(error)) {
	if warn == nil {
		warn = func(err error) { fmt.Fprintln(os.Stderr, "husk: warning:", err) }
	}
	hooks.RunAll(hooks.Poststop, hooks.List(st.Hooks, hooks.Poststop), st.hookState(specs.StateStopped), warn)
}

// makeStatusFifo creates the fifo on which init tells `start` why it did
// not exec, opened read-write for init (so neither side blocks opening).
func makeStatusFifo(dir string) (*os.File, error) {
	p := filepath.Join(dir, statusName)
	if err := unix.Mkfifo(p, 0o600); err != nil {
		return nil, fmt.Errorf("create status fifo %s: %w", p, err)
	}
	f, err := os.OpenFile(p, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open status fifo %s: %w", p, err)
	}
	return f, nil
}

// openStatusFifo opens the status fifo for reading before `start` lets
// init go, or returns nil when the container has none. The open does not
// block (init holds a writer); reads then block until init writes an
// error or its writer goes away at exec.
func openStatusFifo(dir string) (*os.File, error) {
	p := filepath.Join(dir, statusName)
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, nil
		}
		return nil, fmt.Errorf("open status fifo %s: %w", p, err)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("status fifo %s: %w", p, err)
	}
	return os.NewFile(uintptr(fd), p), nil
}

// waitStarted reads init's report: nothing (EOF) when the process was
// exec'd, else the error that stopped it.
func waitStarted(f *os.File) error {
	data, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return fmt.Errorf("wait for container process: %w", err)
	}
	if len(data) > 0 {
		return errors.New(string(data))
	}
	return nil
}
