package main

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/huskrt/husk/libcontainer"
)

func (a *app) deleteCommand() *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete any resources held by the container often used with detached container",
		ArgsUsage: "<container-id>",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "forcibly delete the container if it is still running (uses SIGKILL)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 1); err != nil {
				return err
			}
			return libcontainer.DeleteWarn(a.root, cmd.Args().First(), cmd.Bool("force"), a.log.Warn)
		},
	}
}
