package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"

	"github.com/huskrt/husk/libcontainer"
)

func (a *app) killCommand() *cli.Command {
	return &cli.Command{
		Name:      "kill",
		Usage:     "kill sends the specified signal (default: SIGTERM) to the container's init process",
		ArgsUsage: "<container-id> [signal]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "send the specified signal to all processes inside the container"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.NArg() < 1 || cmd.NArg() > 2 {
				return fmt.Errorf("%q requires 1 or 2 argument(s)", cmd.Name)
			}
			sig := unix.SIGTERM
			if cmd.NArg() == 2 {
				var err error
				if sig, err = parseSignal(cmd.Args().Get(1)); err != nil {
					return err
				}
			}
			return libcontainer.Kill(a.root, cmd.Args().First(), sig, cmd.Bool("all"))
		},
	}
}

// parseSignal accepts a number, or a name with or without SIG, in any case.
func parseSignal(raw string) (unix.Signal, error) {
	if n, err := strconv.Atoi(raw); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("unknown signal %q", raw)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(raw)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", raw)
}
