// husk is a runc-compatible OCI container runtime. This file only wires the
// command line; each command lives in its own file, and the work is done in
// libcontainer/ (config.json -> libcontainer/config -> libcontainer (create)
// -> nsenter + libcontainer/initproc (init) -> the container's process).
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v3"

	"github.com/huskrt/husk/libcontainer/initproc"
	_ "github.com/huskrt/husk/nsenter" // runs before main in `husk init`
)

// Set by the Makefile.
var (
	version = "0.1.0-dev"
	commit  = "unknown"
)

func main() {
	// `husk init` is the container's first process: skip the CLI
	// entirely, it only costs start-up time there.
	if len(os.Args) == 2 && os.Args[1] == "init" {
		if err := initproc.Run(); err != initproc.ErrReported {
			fmt.Fprintln(os.Stderr, "husk init:", err)
		}
		os.Exit(1)
	}
	os.Exit(newApp().run(os.Args))
}

// app holds what the global flags decide for every command.
type app struct {
	root string
	log  *logger
	// systemdCgroup and rootless are --systemd-cgroup and --rootless.
	systemdCgroup bool
	rootless      string
}

func newApp() *app { return &app{log: &logger{}} }

func (a *app) run(args []string) int {
	cli.VersionPrinter = func(cmd *cli.Command) {
		fmt.Fprintf(cmd.Root().Writer, "husk version %s\ncommit: %s\nspec: %s\ngo: %s\n",
			version, commit, specs.Version, runtime.Version())
	}
	cmd := &cli.Command{
		Name:    "husk",
		Usage:   "Open Container Initiative runtime",
		Version: version,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: "/run/husk", Usage: "root directory for storage of container state"},
			&cli.StringFlag{Name: "log", Usage: "log file path (default: stderr)"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
			&cli.BoolFlag{Name: "debug", Usage: "enable debug logging"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "use the systemd cgroup driver"},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "rootless mode: true, false or auto"},
			&cli.StringFlag{Name: "criu", Value: "criu", Usage: "path to the criu binary"},
		},
		Before:         a.before,
		Commands:       a.commands(args),
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
	}
	if err := cmd.Run(context.Background(), args); err != nil {
		if e, ok := err.(exitCode); ok {
			return int(e)
		}
		a.log.Error(err)
		return 1
	}
	return 0
}

// commands returns the command args names, alone, or every command when
// args names none of them (help, an unknown command, an unknown global
// flag: the full tree gives the usual help and errors). Building and
// checking the 17 commands' flag sets costs each husk call a millisecond
// or more, mostly in page faults on fresh heap (see tests/bench), and an
// engine runs husk several times per container.
func (a *app) commands(args []string) []*cli.Command {
	all := []struct {
		name string
		make func() *cli.Command
	}{
		{"create", a.createCommand}, {"start", a.startCommand}, {"run", a.runCommand}, {"state", a.stateCommand},
		{"list", a.listCommand}, {"kill", a.killCommand}, {"delete", a.deleteCommand}, {"spec", specCommand},
		{"pause", a.pauseCommand}, {"resume", a.resumeCommand}, {"update", a.updateCommand}, {"events", a.eventsCommand},
		{"ps", a.psCommand}, {"exec", a.execCommand}, {"features", a.featuresCommand},
		{"checkpoint", a.checkpointCommand}, {"restore", a.restoreCommand},
	}
	if name := commandName(args); name != "" {
		for _, c := range all {
			if c.name == name {
				return []*cli.Command{c.make()}
			}
		}
	}
	cmds := make([]*cli.Command, len(all))
	for i, c := range all {
		cmds[i] = c.make()
	}
	return cmds
}

// commandName is the first argument after the global flags, or "" when a
// flag it does not know comes first.
func commandName(args []string) string {
	for i := 1; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") {
			return arg
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		switch name {
		case "root", "log", "log-format", "rootless", "criu":
			if !hasValue {
				i++ // the value is the next argument
			}
		case "debug", "systemd-cgroup":
		default:
			return ""
		}
	}
	return ""
}

func (a *app) before(ctx context.Context, cmd *cli.Command) (context.Context, error) {
	a.root = cmd.String("root")
	if !cmd.IsSet("root") && os.Geteuid() != 0 && os.Getenv("XDG_RUNTIME_DIR") != "" {
		// Not root: /run/husk is not ours; runc uses $XDG_RUNTIME_DIR/runc.
		a.root = filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "husk")
	}
	a.systemdCgroup, a.rootless = cmd.Bool("systemd-cgroup"), cmd.String("rootless")
	if err := a.log.open(cmd.String("log"), cmd.String("log-format"), cmd.Bool("debug")); err != nil {
		return ctx, err
	}
	switch cmd.String("rootless") {
	case "auto", "true", "false":
	default:
		return ctx, fmt.Errorf("--rootless: invalid value %q (want true, false or auto)", cmd.String("rootless"))
	}
	return ctx, nil
}

// exitCode ends husk with a status and no error message (run passes the
// container's status through).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// exactArgs checks a command's positional arguments as runc does.
func exactArgs(cmd *cli.Command, n int) error {
	if cmd.NArg() != n {
		return fmt.Errorf("%q requires exactly %d argument(s)", cmd.Name, n)
	}
	return nil
}
