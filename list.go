package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/huskrt/husk/libcontainer"
)

func (a *app) listCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "lists containers started by husk with the given root",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "select one of: table or json"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "display only container IDs"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			entries, err := libcontainer.List(a.root)
			if err != nil {
				return err
			}
			out := cmd.Root().Writer
			if cmd.Bool("quiet") {
				for _, e := range entries {
					fmt.Fprintln(out, e.ID)
				}
				return nil
			}
			switch cmd.String("format") {
			case "table":
				w := tabwriter.NewWriter(out, 12, 1, 3, ' ', 0)
				fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
				for _, e := range entries {
					s := toContainerState(e)
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
				}
				return w.Flush()
			case "json":
				states := make([]containerState, 0, len(entries))
				for _, e := range entries {
					states = append(states, toContainerState(e))
				}
				return json.NewEncoder(out).Encode(states)
			default:
				return fmt.Errorf("--format: invalid value %q (want table or json)", cmd.String("format"))
			}
		},
	}
}
