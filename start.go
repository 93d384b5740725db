package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"

	"github.com/huskrt/husk/libcontainer"
)

// notifySocket is the host's NOTIFY_SOCKET when husk can proxy it (an
// abstract socket is per network namespace and cannot be proxied).
func notifySocket() string {
	if ns := os.Getenv("NOTIFY_SOCKET"); filepath.IsAbs(ns) {
		return ns
	}
	return ""
}

func (a *app) startCommand() *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "executes the user defined process in a created container",
		ArgsUsage: "<container-id>",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 1); err != nil {
				return err
			}
			return libcontainer.StartNotify(a.root, cmd.Args().First(), notifySocket())
		},
	}
}
