// Package hooks runs the OCI lifecycle hooks (config.md "POSIX-platform
// Hooks"): each hook is a program that gets the container's state JSON on
// stdin, runs with its own args and env, and is killed when it outlives
// its timeout. The callers decide where (runtime or container namespace)
// and when each kind runs, and what a failure means.
package hooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Kinds, as config.json names them; they also name the hook in errors.
const (
	Prestart        = "prestart"
	CreateRuntime   = "createRuntime"
	CreateContainer = "createContainer"
	StartContainer  = "startContainer"
	Poststart       = "poststart"
	Poststop        = "poststop"
)

// List returns the hooks of one kind (nil when there are none).
func List(h *specs.Hooks, kind string) []specs.Hook {
	if h == nil {
		return nil
	}
	switch kind {
	case Prestart:
		return h.Prestart //nolint:staticcheck // deprecated in the spec, still run
	case CreateRuntime:
		return h.CreateRuntime
	case CreateContainer:
		return h.CreateContainer
	case StartContainer:
		return h.StartContainer
	case Poststart:
		return h.Poststart
	case Poststop:
		return h.Poststop
	}
	return nil
}

// State is the runtime-spec State a hook reads on stdin.
func State(ociVersion, id string, status specs.ContainerState, pid int, bundle string, annotations map[string]string) []byte {
	data, _ := json.Marshal(&specs.State{
		Version: ociVersion, ID: id, Status: status, Pid: pid,
		Bundle: bundle, Annotations: annotations,
	})
	return data
}

// Run runs the hooks of one kind in order and stops at the first failure,
// which it returns as `hooks.<kind>[<i>] (<path>): <what>`.
func Run(kind string, list []specs.Hook, state []byte) error {
	for i, h := range list {
		if err := runOne(h, state); err != nil {
			return fmt.Errorf("hooks.%s[%d] (%s): %w", kind, i, h.Path, err)
		}
	}
	return nil
}

// RunAll runs every hook of one kind even when some fail (poststop: the
// spec wants a warning and the remaining hooks), and calls warn for each
// failure.
func RunAll(kind string, list []specs.Hook, state []byte, warn func(error)) {
	for i, h := range list {
		if err := runOne(h, state); err != nil && warn != nil {
			warn(fmt.Errorf("hooks.%s[%d] (%s): %w", kind, i, h.Path, err))
		}
	}
}

func runOne(h specs.Hook, state []byte) error {
	// stdin, stdout and stderr are memfds, not pipes: nothing copies them
	// in the background, so a hook that leaves a daemon holding its
	// stdout cannot keep us waiting, and the state is read like a file.
	stdin, err := memfd("hook-state", state)
	if err != nil {
		return err
	}
	defer stdin.Close()
	out, err := memfd("hook-output", nil)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := &exec.Cmd{
		Path:   h.Path,
		Args:   h.Args, // args[0] is argv0; empty means just the path
		Env:    h.Env,  // nil: the caller's environment, as runc does
		Stdin:  stdin,
		Stdout: out,
		Stderr: out,
		// Its own process group, so a timeout kills what it started too.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if len(cmd.Args) == 0 {
		cmd.Args = []string{h.Path}
	}
	if err := cmd.Start(); err != nil {
		return errors.Unwrap(err) // exec.Cmd repeats the path
	}
	var timedOut chan struct{}
	if h.Timeout != nil && *h.Timeout > 0 {
		timedOut = make(chan struct{})
		t := time.AfterFunc(time.Duration(*h.Timeout)*time.Second, func() {
			close(timedOut)
			unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
		})
		defer t.Stop()
	}
	err = cmd.Wait()
	if timedOut != nil {
		select {
		case <-timedOut:
			return fmt.Errorf("timed out after %ds (killed)", *h.Timeout)
		default:
		}
	}
	if err != nil {
		if line := firstLine(out); line != "" {
			return fmt.Errorf("%w: %s", err, line)
		}
		return err
	}
	return nil
}

// firstLine is the first non-empty line the hook wrote, for the error.
func firstLine(f *os.File) string {
	buf := make([]byte, 4096)
	n, _ := f.ReadAt(buf, 0)
	for _, l := range strings.Split(string(buf[:n]), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// memfd is an anonymous file holding data, positioned at its start.
func memfd(name string, data []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	if len(data) > 0 {
		if _, err := io.Copy(f, bytes.NewReader(data)); err != nil {
			f.Close()
			return nil, fmt.Errorf("write hook state: %w", err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}
