package main

import (
	"context"
	"os"
	"strconv"

	"github.com/urfave/cli/v3"

	"github.com/huskrt/husk/libcontainer"
	"github.com/huskrt/husk/libcontainer/terminal"
)

func (a *app) runCommand() *cli.Command {
	flags := append(createFlags(),
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
		&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
	)
	return &cli.Command{
		Name:      "run",
		Usage:     "create and run a container",
		ArgsUsage: "<container-id>",
		Flags:     flags,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			opts, err := a.createOpts(cmd)
			if err != nil {
				return err
			}
			opts.StartNow = true
			if cmd.Bool("detach") {
				c, err := libcontainer.Create(*opts)
				if err == nil && c.Notify != nil {
					// As runc: return once the container is ready.
					defer c.Notify.Close()
					err = c.Notify.Forward(c.Pid, true)
				}
				return err
			}
			return a.runForeground(opts, cmd.Bool("keep"))
		},
	}
}

// runForeground runs the container attached: husk stays its parent (as a
// child subreaper, since init is forked by nsenter), forwards signals to
// it, and exits with its status.
func (a *app) runForeground(opts *libcontainer.CreateOpts, keep bool) error {
	fg, err := startForeground()
	if err != nil {
		return err
	}
	defer fg.stop()

	var restore func()
	if opts.Config.Spec.Process.Terminal && opts.ConsoleSocket == "" {
		opts.Console = func(master *os.File) { restore = terminal.Proxy(master) }
	}
	c, err := libcontainer.Create(*opts)
	if err != nil {
		return err
	}
	var forwarded chan error
	if c.Notify != nil {
		defer c.Notify.Close()
		forwarded = make(chan error, 1)
		go func() { forwarded <- c.Notify.Forward(c.Pid, false) }()
	}
	status := fg.wait(c.Pid)
	if forwarded != nil {
		<-forwarded // what the container sent before it exited
	}
	if restore != nil {
		restore()
	}
	if !keep {
		if err := libcontainer.DeleteWarn(opts.Root, opts.ID, true, a.log.Warn); err != nil {
			a.log.Error(err)
		}
	}
	if status != 0 {
		return exitCode(status)
	}
	return nil
}

// addListenFds passes systemd socket activation through: the LISTEN_FDS
// descriptors are preserved and the container is told it has them.
func addListenFds(opts *libcontainer.CreateOpts) {
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return
	}
	opts.PreserveFds += n
	p := opts.Config.Spec.Process
	p.Env = append(p.Env[:len(p.Env):len(p.Env)], "LISTEN_FDS="+strconv.Itoa(n), "LISTEN_PID=1")
}
