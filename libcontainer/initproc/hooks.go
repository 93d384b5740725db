package initproc

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/huskrt/husk/libcontainer/hooks"
)

// createHooks runs where the spec puts prestart, createRuntime and
// createContainer: namespaces and mounts are set up, the root is not
// switched yet. It costs nothing when the config has no such hooks.
func createHooks(c *Config, dec *json.Decoder, enc *json.Encoder) error {
	h := c.Spec.Hooks
	if len(hooks.List(h, hooks.Prestart))+len(hooks.List(h, hooks.CreateRuntime)) > 0 {
		// These run in the runtime namespace, so the parent runs them
		// while we wait. If one fails the parent kills us.
		if err := enc.Encode(Message{Type: MsgHooks}); err != nil {
			return fmt.Errorf("ask parent to run hooks: %w", err)
		}
		var msg Message
		if err := dec.Decode(&msg); err != nil || msg.Type != MsgGo {
			os.Exit(1) // the parent gave up: nobody to report to
		}
	}
	// createContainer hooks run here, in the container's namespaces,
	// with the host's filesystem still reachable for their path.
	return runInContainer(c, hooks.CreateContainer)
}

// runInContainer runs one kind of hooks from init. Our descriptors
// (sync socket, fifos) are made close-on-exec first so that no hook, and
// no daemon a hook leaves behind, holds them open.
func runInContainer(c *Config, kind string) error {
	list := hooks.List(c.Spec.Hooks, kind)
	if len(list) == 0 {
		return nil
	}
	closeExecFrom(3 + c.PreserveFds)
	return hooks.Run(kind, list, c.HookState)
}

// reportStart tells a waiting `start` why the process was not started,
// and returns err for the usual reporting.
func reportStart(c *Config, err error) error {
	if c.StatusFd >= 0 {
		f := os.NewFile(uintptr(c.StatusFd), "exec-status")
		_, werr := f.Write([]byte(err.Error()))
		f.Close()
		if werr == nil {
			return ErrReported
		}
	}
	return err
}
