package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v3"

	"github.com/huskrt/husk/libcontainer"
)

func (a *app) updateCommand() *cli.Command {
	str := func(name, usage string, aliases ...string) cli.Flag {
		return &cli.StringFlag{Name: name, Usage: usage, Aliases: aliases}
	}
	return &cli.Command{
		Name:      "update",
		Usage:     "update container resource constraints",
		ArgsUsage: "<container-id>",
		Flags: []cli.Flag{
			str("resources", "path to a file with the LinuxResources JSON to apply, or '-' for stdin (all other options are then ignored)", "r"),
			&cli.IntFlag{Name: "blkio-weight", Usage: "per cgroup block IO weight, 10 to 1000"},
			str("cpu-period", "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"),
			str("cpu-quota", "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"),
			str("cpu-burst", "CPU CFS hardcap burst limit (in usecs)"),
			str("cpu-share", "CPU shares (relative weight vs. other containers)", "cpu-shares"),
			str("cpu-rt-period", "CPU realtime period to be used for hardcapping (in usecs)"),
			str("cpu-rt-runtime", "CPU realtime hardcap limit (in usecs)"),
			str("cpuset-cpus", "CPU(s) to use"),
			str("cpuset-mems", "memory node(s) to use"),
			str("cpu-idle", "set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE"),
			&cli.StringFlag{Name: "kernel-memory", Usage: "(obsoleted; do not use)", Hidden: true},
			&cli.StringFlag{Name: "kernel-memory-tcp", Usage: "(obsoleted; do not use)", Hidden: true},
			str("memory", "memory limit (in bytes)"),
			str("memory-reservation", "memory reservation or soft_limit (in bytes)"),
			str("memory-swap", "total memory usage (memory + swap); set '-1' to enable unlimited swap"),
			&cli.IntFlag{Name: "pids-limit", Usage: "maximum number of pids allowed in the container"},
			str("l3-cache-schema", "the string of Intel RDT/CAT L3 cache schema"),
			str("mem-bw-schema", "the string of Intel RDT/MBA memory bandwidth schema"),
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 1); err != nil {
				return err
			}
			r, err := a.updateResources(cmd)
			if err != nil {
				return err
			}
			return libcontainer.Update(a.root, cmd.Args().First(), r)
		},
	}
}

// updateResources builds the resources to change from -r or the flags.
func (a *app) updateResources(cmd *cli.Command) (*specs.LinuxResources, error) {
	for _, opt := range []string{"l3-cache-schema", "mem-bw-schema"} {
		if cmd.String(opt) != "" {
			return nil, fmt.Errorf("--%s: intelRdt is not supported by husk", opt)
		}
	}
	r := &specs.LinuxResources{Memory: &specs.LinuxMemory{}, CPU: &specs.LinuxCPU{}, BlockIO: &specs.LinuxBlockIO{}, Pids: &specs.LinuxPids{}}
	if in := cmd.String("resources"); in != "" {
		var src io.Reader = os.Stdin
		if in != "-" {
			f, err := os.Open(in)
			if err != nil {
				return nil, fmt.Errorf("--resources: %w", err)
			}
			defer f.Close()
			src = f
		}
		var fromFile specs.LinuxResources
		if err := json.NewDecoder(src).Decode(&fromFile); err != nil {
			return nil, fmt.Errorf("--resources %s: invalid LinuxResources JSON: %w", in, err)
		}
		return &fromFile, nil
	}
	if cmd.IsSet("blkio-weight") {
		v := uint16(cmd.Int("blkio-weight"))
		r.BlockIO.Weight = &v
	}
	r.CPU.Cpus, r.CPU.Mems = cmd.String("cpuset-cpus"), cmd.String("cpuset-mems")
	for _, p := range []struct {
		opt  string
		dest **uint64
	}{{"cpu-burst", &r.CPU.Burst}, {"cpu-period", &r.CPU.Period}, {"cpu-rt-period", &r.CPU.RealtimePeriod}, {"cpu-share", &r.CPU.Shares}} {
		if val := cmd.String(p.opt); val != "" {
			v, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("invalid value for %s: %w", p.opt, err)
			}
			*p.dest = &v
		}
	}
	for _, p := range []struct {
		opt  string
		dest **int64
	}{{"cpu-quota", &r.CPU.Quota}, {"cpu-rt-runtime", &r.CPU.RealtimeRuntime}, {"cpu-idle", &r.CPU.Idle}} {
		if val := cmd.String(p.opt); val != "" {
			v, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("invalid value for %s: %w", p.opt, err)
			}
			*p.dest = &v
		}
	}
	for _, p := range []struct {
		opt  string
		dest **int64
	}{{"memory", &r.Memory.Limit}, {"memory-swap", &r.Memory.Swap}, {"memory-reservation", &r.Memory.Reservation}} {
		if val := cmd.String(p.opt); val != "" {
			v, err := ramInBytes(val)
			if err != nil {
				return nil, fmt.Errorf("invalid value for %s: %w", p.opt, err)
			}
			*p.dest = &v
		}
	}
	for _, opt := range []string{"kernel-memory", "kernel-memory-tcp"} {
		if cmd.String(opt) != "" {
			a.warn(fmt.Sprintf("Setting --%s is ignored and will be removed", opt))
		}
	}
	if cmd.IsSet("pids-limit") {
		v := int64(cmd.Int("pids-limit"))
		r.Pids.Limit = &v
	}
	return r, nil
}

// warn reports a problem that does not stop the command (stderr and log).
func (a *app) warn(msg string) {
	a.log.write("warning", msg)
	fmt.Fprintln(os.Stderr, "husk: warning:", msg)
}

// ramInBytes parses "-1" or a size such as 512, 100k, 64m, 1.5g, 2GiB
// (binary multiples, as runc's go-units RAMInBytes). Parsed by hand: the
// regexp package alone made the binary, and so every husk process's
// resident size, 150 KB bigger.
func ramInBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	bad := errors.New("invalid size: '" + s + "'")
	v := strings.ToLower(strings.TrimSpace(s))
	i := 0
	for i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '.') {
		i++
	}
	num, unit := v[:i], strings.TrimLeft(v[i:], " \t")
	if num == "" || num[0] == '.' || num[len(num)-1] == '.' || strings.Count(num, ".") > 1 {
		return 0, bad
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, bad
	}
	mult := float64(1)
	if unit != "" {
		if k := strings.IndexByte("kmgtp", unit[0]); k >= 0 {
			mult = float64(int64(1) << (10 * (k + 1)))
			unit = unit[1:]
		}
		unit = strings.TrimPrefix(unit, "i")
		unit = strings.TrimPrefix(unit, "b")
		if unit != "" {
			return 0, bad
		}
	}
	return int64(n * mult), nil
}
