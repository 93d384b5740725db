package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/moby/sys/userns"
	"github.com/urfave/cli/v3"

	"github.com/huskrt/husk/libcontainer"
	"github.com/huskrt/husk/libcontainer/config"
)

// createFlags are shared by create and run.
func createFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the root of the bundle directory (default: current directory)"},
		&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive the pty master"},
		&cli.StringFlag{Name: "pid-file", Usage: "file to write the process id to"},
		&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot_root to jail the process inside the rootfs"},
		&cli.BoolFlag{Name: "no-new-keyring", Usage: "do not create a new session keyring for the container"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)"},
	}
}

func (a *app) createCommand() *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create a container",
		ArgsUsage: "<container-id>",
		Flags:     createFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			opts, err := a.createOpts(cmd)
			if err != nil {
				return err
			}
			_, err = libcontainer.Create(*opts)
			return err
		},
	}
}

// createOpts validates the id and the bundle's config and gathers the
// flags, before anything is created.
func (a *app) createOpts(cmd *cli.Command) (*libcontainer.CreateOpts, error) {
	if err := exactArgs(cmd, 1); err != nil {
		return nil, err
	}
	id := cmd.Args().First()
	if err := config.ValidateID(id); err != nil {
		return nil, err
	}
	bundle := cmd.String("bundle")
	if bundle == "" {
		bundle = "."
	}
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(bundle)
	if err != nil {
		return nil, err
	}
	opts := &libcontainer.CreateOpts{
		Root:          a.root,
		ID:            id,
		Config:        cfg,
		PidFile:       cmd.String("pid-file"),
		ConsoleSocket: cmd.String("console-socket"),
		PreserveFds:   int(cmd.Int("preserve-fds")),
		NoPivot:       cmd.Bool("no-pivot"),
		NoNewKeyring:  cmd.Bool("no-new-keyring"),
		SystemdCgroup: a.systemdCgroup,
		Rootless:      a.rootless == "true" || (a.rootless == "auto" && (os.Geteuid() != 0 || userns.RunningInUserNS())),
		ForceMemfd:    os.Getenv("HUSK_EXE_PROTECTION") == "memfd",
		Stdin:         os.Stdin,
		Stdout:        os.Stdout,
		Stderr:        os.Stderr,
		Warn:          a.log.Warn,
	}
	opts.NotifySocket = notifySocket()
	addListenFds(opts)
	return opts, nil
}
