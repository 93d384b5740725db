// Package initproc is the Go half of `husk init`: the container's first
// process, after nsenter (C, before the Go runtime) has put it into its
// namespaces. It sets up the root filesystem and the process attributes,
// reports ready, waits for `start`, and execs the user's program.
package initproc

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Env names the parent uses to hand descriptors to init.
const (
	EnvInitPipe = "_HUSK_INITPIPE" // the bootstrap/sync socket (also read by nsenter)
)

// Config is everything init needs, sent by the parent as the first JSON
// message after nsenter has reported the init pid.
type Config struct {
	ID     string      `json:"id"`
	Spec   *specs.Spec `json:"spec"`
	Rootfs string      `json:"rootfs"`
	Bundle string      `json:"bundle"`
	// NewNamespaces lists the namespace types created (not joined) for the
	// container: init only sets up what it owns (e.g. the hostname only
	// in a new uts namespace, mounts only in a new mount namespace).
	NewNamespaces []specs.LinuxNamespaceType `json:"newNamespaces"`
	NoPivot       bool                       `json:"noPivot"`
	// NoNewKeyring keeps the caller's session keyring (--no-new-keyring);
	// by default the container gets its own, so it cannot read the host's
	// keys.
	NoNewKeyring bool `json:"noNewKeyring"`
	// FifoFd is the exec fifo init blocks on until `start` (-1 for `run`,
	// which starts at once).
	FifoFd int `json:"fifoFd"`
	// ConsoleFd is a unix socket over which init sends the pty master
	// (-1 when process.terminal is false).
	ConsoleFd int `json:"consoleFd"`
	// PreserveFds is how many descriptors above stdio the container's
	// process keeps (--preserve-fds plus LISTEN_FDS).
	PreserveFds int `json:"preserveFds"`
	// Env is the process environment (the config's, plus LISTEN_FDS etc.).
	Env []string `json:"env"`
	// SetgroupsDenied is true when the user namespace was mapped with
	// setgroups disabled (rootless), so setgroups(2) must be skipped.
	SetgroupsDenied bool `json:"setgroupsDenied"`
	// HookState is the state JSON the createContainer and startContainer
	// hooks read (status "created", the init's host pid).
	HookState []byte `json:"hookState,omitempty"`
	// StatusFd is a fifo on which init reports why it did not exec after
	// `start` (startContainer hook or exec failure); `start` reads it and
	// sees EOF when the exec succeeded. -1 when nobody waits (no
	// startContainer or poststart hooks, or run).
	StatusFd int `json:"statusFd"`
	// IDMapMounts lists the indexes in spec.mounts of the idmapped mounts
	// whose trees the parent sends (in this order, SCM_RIGHTS) when init
	// asks with MsgMountFds.
	IDMapMounts []int `json:"idmapMounts,omitempty"`
	// Exec is set for `husk exec`: nsenter joined the namespaces of a
	// running container, so init skips what the container already has
	// (rootfs, hostname, /dev/console, exec fifo) and only sets up the
	// process (see exec.go).
	Exec bool `json:"exec,omitempty"`
}

// Message is one step of the sync protocol between parent and init.
type Message struct {
	Type  string `json:"type"`
	Error string `json:"error,omitempty"`
}

// Message types.
const (
	MsgReady = "ready" // init -> parent: set up, about to wait for start
	MsgGo    = "go"    // parent -> init: state saved, carry on
	MsgError = "error" // init -> parent: setup failed, Error says why
	// MsgHooks: init -> parent: namespaces and mounts are set up, the root
	// is not switched yet: run the prestart and createRuntime hooks, then
	// send MsgGo. Sent only when the config has such hooks.
	MsgHooks = "hooks"
	// init -> parent: send the idmapped trees now (the parent sends them
	// only when asked, so they never land in init's JSON read buffer).
	MsgMountFds = "mountfds"
	// Seccomp notify: init -> parent MsgSeccomp (a listener fd is ready),
	// parent -> init MsgSendFd, then init sends the fd alone with
	// SCM_RIGHTS, so no JSON read-ahead can swallow it.
	MsgSeccomp = "seccomp"
	MsgSendFd  = "sendfd"
)
