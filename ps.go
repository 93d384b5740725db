package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/huskrt/husk/libcontainer"
)

func (a *app) psCommand() *cli.Command {
	return &cli.Command{
		Name:      "ps",
		Usage:     "ps displays the processes running inside a container",
		ArgsUsage: "<container-id> [ps options]",
		// Everything after the id goes to ps(1): `husk ps ID -o pid,comm`.
		StopOnNthArg: intPtr(1),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "select one of: table or json"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.NArg() < 1 {
				return fmt.Errorf("%q requires a minimum of 1 argument(s)", cmd.Name)
			}
			format := cmd.String("format")
			if format != "table" && format != "json" {
				return errors.New("invalid format option")
			}
			pids, err := libcontainer.Processes(a.root, cmd.Args().First())
			if err != nil {
				return err
			}
			w := cmd.Root().Writer
			if format == "json" {
				if pids == nil {
					pids = []int{}
				}
				return json.NewEncoder(w).Encode(pids)
			}
			psArgs := cmd.Args().Slice()[1:]
			if len(psArgs) == 0 {
				psArgs = []string{"-ef"}
			}
			out, err := exec.Command("ps", psArgs...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("ps %s: %w: %s", strings.Join(psArgs, " "), err, strings.TrimSpace(string(out)))
			}
			table, err := filterPs(string(out), pids)
			if err != nil {
				return err
			}
			fmt.Fprint(w, table)
			return nil
		},
	}
}

func intPtr(i int) *int { return &i }

// filterPs keeps ps(1)'s header and the lines whose PID column is one of
// the container's processes.
func filterPs(out string, pids []int) (string, error) {
	lines := strings.Split(out, "\n")
	col := -1
	for i, name := range strings.Fields(lines[0]) {
		if name == "PID" {
			col = i
			break
		}
	}
	if col < 0 {
		return "", errors.New("couldn't find PID field in ps output")
	}
	in := map[int]bool{}
	for _, p := range pids {
		in[p] = true
	}
	var b strings.Builder
	b.WriteString(lines[0] + "\n")
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) <= col {
			continue
		}
		p, err := strconv.Atoi(f[col])
		if err != nil {
			return "", fmt.Errorf("unable to parse pid %q: %w", f[col], err)
		}
		if in[p] {
			b.WriteString(line + "\n")
		}
	}
	return b.String(), nil
}
