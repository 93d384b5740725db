package main

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/huskrt/husk/libcontainer"
)

func (a *app) resumeCommand() *cli.Command {
	return &cli.Command{
		Name:      "resume",
		Usage:     "resumes all processes that have been previously paused",
		ArgsUsage: "<container-id>",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 1); err != nil {
				return err
			}
			return libcontainer.Resume(a.root, cmd.Args().First())
		},
	}
}
