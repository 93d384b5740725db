package main

import (
	"context"
	"path/filepath"

	"github.com/urfave/cli/v3"

	"github.com/huskrt/husk/checkpoint"
	"github.com/huskrt/husk/libcontainer"
)

func (a *app) restoreCommand() *cli.Command {
	flags := append(criuFlags(),
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the root of the bundle directory (default: current directory)"},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
		&cli.StringFlag{Name: "pid-file", Usage: "file to write the process id to"},
		&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive the pty master"},
		&cli.BoolFlag{Name: "no-pivot", Usage: "accepted for runc compatibility (CRIU sets up the root)"},
		&cli.BoolFlag{Name: "no-subreaper", Usage: "accepted for runc compatibility (ignored)"},
		&cli.StringFlag{Name: "lsm-profile", Usage: "LSM profile to restore the container with (type:label)"},
		&cli.StringFlag{Name: "lsm-mount-context", Usage: "SELinux mount context for the restored mounts"},
	)
	return &cli.Command{
		Name:      "restore",
		Usage:     "restore a container from a previous checkpoint",
		ArgsUsage: "<container-id>",
		Flags:     flags,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			// create's id and bundle checks and its options (pid file,
			// console socket, cgroup driver, stdio).
			copts, err := a.createOpts(cmd)
			if err != nil {
				return err
			}
			o, err := a.criuOptions(cmd)
			if err != nil {
				return err
			}
			if o.WorkPath != "" {
				if o.WorkPath, err = filepath.Abs(o.WorkPath); err != nil {
					return err
				}
			}
			ro := checkpoint.RestoreOptions{Options: o, Create: *copts,
				LsmProfile: cmd.String("lsm-profile"), LsmMountContext: cmd.String("lsm-mount-context")}
			if cmd.Bool("detach") {
				_, err := checkpoint.Restore(ro)
				return err
			}
			// Foreground, as run: husk waits for the restored init (its
			// child: CRIU restores it as husk's sibling-child) and exits
			// with its status.
			fg, err := startForeground()
			if err != nil {
				return err
			}
			defer fg.stop()
			pid, err := checkpoint.Restore(ro)
			if err != nil {
				return err
			}
			status := fg.wait(pid)
			if err := libcontainer.DeleteWarn(a.root, copts.ID, true, a.log.Warn); err != nil {
				a.log.Error(err)
			}
			if status != 0 {
				return exitCode(status)
			}
			return nil
		},
	}
}
