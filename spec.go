package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"

	"github.com/huskrt/husk/libcontainer/config"
)

func specCommand() *cli.Command {
	return &cli.Command{
		Name:  "spec",
		Usage: "create a new specification file",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the root of the bundle directory"},
			&cli.BoolFlag{Name: "rootless", Usage: "generate a configuration for a rootless container"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			path := filepath.Join(cmd.String("bundle"), "config.json")
			if _, err := os.Lstat(path); err == nil {
				return fmt.Errorf("file %s exists: remove it first", path)
			}
			data, err := json.MarshalIndent(config.Default(cmd.Bool("rootless")), "", "\t")
			if err != nil {
				return err
			}
			if err := os.WriteFile(path, data, 0o666); err != nil {
				return fmt.Errorf("write %s: %w", path, err)
			}
			return nil
		},
	}
}
