package main

import (
	"context"
	"path/filepath"

	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/urfave/cli/v3"

	"github.com/huskrt/husk/checkpoint"
)

// criuFlags are the CRIU options checkpoint and restore share (runc's).
func criuFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "image-path", Usage: "path for saving criu image files (default: ./checkpoint)"},
		&cli.StringFlag{Name: "work-path", Usage: "path for saving work files and logs"},
		&cli.BoolFlag{Name: "tcp-established", Usage: "allow open tcp connections"},
		&cli.BoolFlag{Name: "ext-unix-sk", Usage: "allow external unix sockets"},
		&cli.BoolFlag{Name: "shell-job", Usage: "allow shell jobs"},
		&cli.BoolFlag{Name: "file-locks", Usage: "handle file locks, for safety"},
		&cli.BoolFlag{Name: "lazy-pages", Usage: "use userfaultfd to lazily restore memory pages"},
		&cli.StringFlag{Name: "manage-cgroups-mode", Usage: "cgroups mode: soft|full|strict|ignore (default: soft)"},
		&cli.StringSliceFlag{Name: "empty-ns", Usage: "create a namespace, but don't restore its properties"},
		&cli.BoolFlag{Name: "auto-dedup", Usage: "enable auto deduplication of memory images"},
	}
}

// criuOptions reads the shared flags.
func (a *app) criuOptions(cmd *cli.Command) (checkpoint.Options, error) {
	img := cmd.String("image-path")
	if img == "" {
		img = "checkpoint"
	}
	img, err := filepath.Abs(img)
	if err != nil {
		return checkpoint.Options{}, err
	}
	return checkpoint.Options{
		Criu:              checkpoint.Criu{Path: cmd.Root().String("criu")},
		Root:              a.root,
		ID:                cmd.Args().First(),
		ImagePath:         img,
		WorkPath:          cmd.String("work-path"),
		TCPEstablished:    cmd.Bool("tcp-established"),
		ExtUnixSk:         cmd.Bool("ext-unix-sk"),
		ShellJob:          cmd.Bool("shell-job"),
		FileLocks:         cmd.Bool("file-locks"),
		LazyPages:         cmd.Bool("lazy-pages"),
		ManageCgroupsMode: cmd.String("manage-cgroups-mode"),
		EmptyNs:           cmd.StringSlice("empty-ns"),
		AutoDedup:         cmd.Bool("auto-dedup"),
		StatusFd:          -1,
		Warn:              a.log.Warn,
	}, nil
}

func (a *app) checkpointCommand() *cli.Command {
	flags := append(criuFlags(),
		&cli.StringFlag{Name: "parent-path", Usage: "path for previous criu image files in pre-dump (relative to --image-path)"},
		&cli.BoolFlag{Name: "leave-running", Usage: "leave the process running after checkpointing"},
		&cli.BoolFlag{Name: "tcp-skip-in-flight", Usage: "skip in-flight tcp connections"},
		&cli.BoolFlag{Name: "link-remap", Usage: "allow one to link unlinked files back when possible"},
		&cli.StringFlag{Name: "page-server", Usage: "ADDRESS:PORT of the page server"},
		&cli.BoolFlag{Name: "pre-dump", Usage: "dump container's memory information only, leave the container running after this"},
		&cli.IntFlag{Name: "status-fd", Value: -1, Usage: "criu writes \\0 to this FD once lazy-pages is ready"},
	)
	return &cli.Command{
		Name:      "checkpoint",
		Usage:     "checkpoint a running container",
		ArgsUsage: "<container-id>",
		Flags:     flags,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 1); err != nil {
				return err
			}
			o, err := a.criuOptions(cmd)
			if err != nil {
				return err
			}
			o.ParentPath = cmd.String("parent-path")
			o.LeaveRunning = cmd.Bool("leave-running")
			o.TCPSkipInFlight = cmd.Bool("tcp-skip-in-flight")
			o.LinkRemap = cmd.Bool("link-remap")
			o.PageServer = cmd.String("page-server")
			o.PreDump = cmd.Bool("pre-dump")
			o.StatusFd = int(cmd.Int("status-fd"))
			if o.WorkPath != "" {
				if o.WorkPath, err = filepath.Abs(o.WorkPath); err != nil {
					return err
				}
			}
			return checkpoint.Checkpoint(o)
		},
	}
}

// checkpointAnnotations say that checkpoint/restore works: runc's key
// (engines and crun use it) and husk's own.
var checkpointAnnotations = []string{"org.opencontainers.runc.checkpoint.enabled", "io.github.huskrt.husk.checkpoint.enabled"}

// addCheckpointFeature claims checkpoint/restore in `husk features` only
// when CRIU is there, new enough and passes its own kernel check on this
// host (a criu that cannot dump here must not be advertised).
func addCheckpointFeature(f *features.Features, criuPath string, debugf func(string, ...any)) {
	if err := (checkpoint.Criu{Path: criuPath}).Check(); err != nil {
		debugf("features: checkpoint not claimed: %v", err)
		return
	}
	for _, k := range checkpointAnnotations {
		f.Annotations[k] = "true"
	}
}
