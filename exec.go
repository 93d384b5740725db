package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v3"

	"github.com/huskrt/husk/libcontainer"
	"github.com/huskrt/husk/libcontainer/config"
	"github.com/huskrt/husk/libcontainer/terminal"
)

func (a *app) execCommand() *cli.Command {
	one := 1
	return &cli.Command{
		Name:      "exec",
		Usage:     "execute new process inside the container",
		ArgsUsage: "<container-id> <command> [command options]  ||  -p process.json <container-id>",
		// Everything after the container id belongs to the command, even
		// what looks like a flag: `husk exec ID sh -c 'x' -- -e`.
		StopOnNthArg: &one,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive the pty master"},
			&cli.StringFlag{Name: "cwd", Usage: "current working directory in the container"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set environment variables"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "UID (format: <uid>[:<gid>])"},
			&cli.IntSliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional gids"},
			&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "path to the process.json"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
			&cli.StringFlag{Name: "pid-file", Usage: "file to write the process id to"},
			&cli.StringFlag{Name: "process-label", Usage: "set the asm process label for the process commonly used with selinux"},
			&cli.StringFlag{Name: "apparmor", Usage: "set the apparmor profile for the process"},
			&cli.BoolFlag{Name: "no-new-privs", Usage: "set the no new privileges value for the process"},
			&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability to the bounding set for the process"},
			&cli.IntFlag{Name: "preserve-fds", Usage: "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)"},
			&cli.StringSliceFlag{Name: "cgroup", Usage: "run the process in an (existing) sub-cgroup(s): [<controller>:]<cgroup>"},
			&cli.BoolFlag{Name: "ignore-paused", Usage: "allow exec in a paused container"},
		},
		Action: a.exec,
	}
}

func (a *app) exec(ctx context.Context, cmd *cli.Command) error {
	args := cmd.Args().Slice()
	if len(args) < 1 || (len(args) < 2 && cmd.String("process") == "") {
		return errors.New(`"exec" requires a minimum of 2 arguments`)
	}
	id := args[0]
	if err := config.ValidateID(id); err != nil {
		return err
	}
	opts := libcontainer.ExecOpts{
		Root:          a.root,
		ID:            id,
		Process:       func(c *config.Config) (*specs.Process, error) { return execProcess(cmd, c, args[1:]) },
		PidFile:       cmd.String("pid-file"),
		ConsoleSocket: cmd.String("console-socket"),
		PreserveFds:   int(cmd.Int("preserve-fds")),
		Cgroups:       cmd.StringSlice("cgroup"),
		IgnorePaused:  cmd.Bool("ignore-paused"),
		ForceMemfd:    os.Getenv("HUSK_EXE_PROTECTION") == "memfd",
		Stdin:         os.Stdin,
		Stdout:        os.Stdout,
		Stderr:        os.Stderr,
	}
	if cmd.Bool("detach") {
		_, err := libcontainer.Exec(opts)
		return err
	}
	fg, err := startForeground()
	if err != nil {
		return err
	}
	defer fg.stop()
	var restore func()
	if opts.ConsoleSocket == "" {
		// Only called when the process has a terminal.
		opts.Console = func(master *os.File) { restore = terminal.Proxy(master) }
	}
	pid, err := libcontainer.Exec(opts)
	if err != nil {
		return err
	}
	status := fg.wait(pid)
	if restore != nil {
		restore()
	}
	if status != 0 {
		return exitCode(status)
	}
	return nil
}

// execProcess is the process to exec: --process's, or the container's
// config's with the flags applied (as runc).
func execProcess(cmd *cli.Command, c *config.Config, args []string) (*specs.Process, error) {
	if path := cmd.String("process"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--process: %w", err)
		}
		var p specs.Process
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("--process %s: %w", path, err)
		}
		return &p, nil
	}
	p := *c.Spec.Process
	p.Args = args
	p.Terminal = cmd.Bool("tty")
	if cwd := cmd.String("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	p.Env = mergeEnv(p.Env, cmd.StringSlice("env"))
	if u := cmd.String("user"); u != "" {
		uid, gid, hasGid := strings.Cut(u, ":")
		n, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--user %q: uid must be a number (format: <uid>[:<gid>])", u)
		}
		p.User.UID = uint32(n)
		if hasGid {
			n, err := strconv.ParseUint(gid, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("--user %q: gid must be a number (format: <uid>[:<gid>])", u)
			}
			p.User.GID = uint32(n)
		}
	}
	for _, g := range cmd.IntSlice("additional-gids") {
		if g < 0 || g > 1<<32-1 {
			return nil, fmt.Errorf("--additional-gids: %d is not a gid", g)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids[:len(p.User.AdditionalGids):len(p.User.AdditionalGids)], uint32(g))
	}
	if caps := cmd.StringSlice("cap"); len(caps) > 0 {
		c := specs.LinuxCapabilities{}
		if p.Capabilities != nil {
			c = *p.Capabilities
		}
		for _, name := range caps {
			name = strings.ToUpper(name)
			if !strings.HasPrefix(name, "CAP_") {
				name = "CAP_" + name
			}
			if _, ok := config.CapabilityValue(name); !ok {
				return nil, fmt.Errorf("--cap: unknown capability %q", name)
			}
			c.Bounding = append(c.Bounding[:len(c.Bounding):len(c.Bounding)], name)
			c.Effective = append(c.Effective[:len(c.Effective):len(c.Effective)], name)
			c.Permitted = append(c.Permitted[:len(c.Permitted):len(c.Permitted)], name)
			// Ambient needs inheritable, which --cap does not add: only
			// when the config already has inheritable ones (as runc).
			if c.Inheritable != nil {
				c.Ambient = append(c.Ambient[:len(c.Ambient):len(c.Ambient)], name)
			}
		}
		p.Capabilities = &c
	}
	if cmd.IsSet("apparmor") {
		p.ApparmorProfile = cmd.String("apparmor")
	}
	if cmd.IsSet("process-label") {
		p.SelinuxLabel = cmd.String("process-label")
	}
	if cmd.IsSet("no-new-privs") {
		p.NoNewPrivileges = cmd.Bool("no-new-privs")
	}
	return &p, nil
}

// mergeEnv returns env with each KEY=value of add replacing the same key
// (libc's getenv would find the first of two).
func mergeEnv(env, add []string) []string {
	out := append([]string(nil), env...)
	for _, kv := range add {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, e := range out {
			if ek, _, _ := strings.Cut(e, "="); ek == k {
				out[i], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}
