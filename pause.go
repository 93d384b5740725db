package main

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/huskrt/husk/libcontainer"
)

func (a *app) pauseCommand() *cli.Command {
	return &cli.Command{
		Name:      "pause",
		Usage:     "pause suspends all processes inside the container",
		ArgsUsage: "<container-id>",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 1); err != nil {
				return err
			}
			return libcontainer.Pause(a.root, cmd.Args().First())
		},
	}
}
