package main

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/huskrt/husk/libcontainer"
)

func (a *app) startCommand() *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "executes the user defined process in a created container",
		ArgsUsage: "<container-id>",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 1); err != nil {
				return err
			}
			return libcontainer.Start(a.root, cmd.Args().First())
		},
	}
}
