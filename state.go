package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/huskrt/husk/libcontainer"
)

// containerState is runc's `state` JSON, field for field.
type containerState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

func toContainerState(e *libcontainer.Entry) containerState {
	pid := e.Pid
	if e.Status == libcontainer.Stopped {
		pid = 0 // runc shows no pid for a stopped container
	}
	return containerState{
		OCIVersion: e.OCIVersion, ID: e.ID, Pid: pid, Status: string(e.Status),
		Bundle: e.Bundle, Rootfs: e.Rootfs, Created: e.Created,
		Annotations: e.Annotations, Owner: e.Owner,
	}
}

func (a *app) stateCommand() *cli.Command {
	return &cli.Command{
		Name:      "state",
		Usage:     "output the state of a container",
		ArgsUsage: "<container-id>",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 1); err != nil {
				return err
			}
			e, err := libcontainer.Get(a.root, cmd.Args().First())
			if err != nil {
				return err
			}
			data, err := json.MarshalIndent(toContainerState(e), "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.Root().Writer, string(data))
			return nil
		},
	}
}
