package main

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	cg "github.com/opencontainers/cgroups"
	"github.com/urfave/cli/v3"

	"github.com/huskrt/husk/libcontainer"
)

func (a *app) eventsCommand() *cli.Command {
	return &cli.Command{
		Name:      "events",
		Usage:     "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
		ArgsUsage: "<container-id>",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "set the stats collection interval"},
			&cli.BoolFlag{Name: "stats", Usage: "display the container's stats then exit"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 1); err != nil {
				return err
			}
			interval := cmd.Duration("interval")
			if interval <= 0 {
				return errors.New("duration interval must be greater than 0")
			}
			id := cmd.Args().First()
			c, err := libcontainer.Cgroup(a.root, id)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.Root().Writer)
			emitStats := func() error {
				s, err := c.Stats()
				if err != nil {
					return err
				}
				return enc.Encode(event{Type: "stats", ID: id, Data: convertStats(s)})
			}
			if cmd.Bool("stats") {
				return emitStats()
			}
			oom, err := c.NotifyOOM()
			if err != nil {
				return err
			}
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				select {
				case _, ok := <-oom:
					if !ok {
						// The cgroup is gone: the container stopped.
						return nil
					}
					if err := enc.Encode(event{Type: "oom", ID: id}); err != nil {
						return err
					}
				case <-tick.C:
					if err := emitStats(); err != nil {
						a.log.Error(err)
					}
				}
			}
		},
	}
}

// The JSON below is runc's `events` output (runc's types package), field
// for field: engines parse it.
type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

type stats struct {
	CPU               cpu                `json:"cpu"`
	CPUSet            cpuSet             `json:"cpuset"`
	Memory            memory             `json:"memory"`
	Pids              pids               `json:"pids"`
	Blkio             blkio              `json:"blkio"`
	Hugetlb           map[string]hugetlb `json:"hugetlb"`
	IntelRdt          struct{}           `json:"intel_rdt"`
	NetworkInterfaces []struct{}         `json:"network_interfaces"`
}

type hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type blkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

type blkio struct {
	IoServiceBytesRecursive []blkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []blkioEntry `json:"ioServicedRecursive,omitempty"`
	IoQueuedRecursive       []blkioEntry `json:"ioQueueRecursive,omitempty"`
	IoServiceTimeRecursive  []blkioEntry `json:"ioServiceTimeRecursive,omitempty"`
	IoWaitTimeRecursive     []blkioEntry `json:"ioWaitTimeRecursive,omitempty"`
	IoMergedRecursive       []blkioEntry `json:"ioMergedRecursive,omitempty"`
	IoTimeRecursive         []blkioEntry `json:"ioTimeRecursive,omitempty"`
	SectorsRecursive        []blkioEntry `json:"sectorsRecursive,omitempty"`
	PSI                     *cg.PSIStats `json:"psi,omitempty"`
}

type pids struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

type throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

type cpuUsage struct {
	Total        uint64   `json:"total,omitempty"`
	Percpu       []uint64 `json:"percpu,omitempty"`
	PercpuKernel []uint64 `json:"percpu_kernel,omitempty"`
	PercpuUser   []uint64 `json:"percpu_user,omitempty"`
	Kernel       uint64   `json:"kernel"`
	User         uint64   `json:"user"`
}

type cpu struct {
	Usage      cpuUsage     `json:"usage,omitempty"`
	Throttling throttling   `json:"throttling,omitempty"`
	PSI        *cg.PSIStats `json:"psi,omitempty"`
}

type cpuSet struct {
	CPUs                  []uint16 `json:"cpus,omitempty"`
	CPUExclusive          uint64   `json:"cpu_exclusive"`
	Mems                  []uint16 `json:"mems,omitempty"`
	MemHardwall           uint64   `json:"mem_hardwall"`
	MemExclusive          uint64   `json:"mem_exclusive"`
	MemoryMigrate         uint64   `json:"memory_migrate"`
	MemorySpreadPage      uint64   `json:"memory_spread_page"`
	MemorySpreadSlab      uint64   `json:"memory_spread_slab"`
	MemoryPressure        uint64   `json:"memory_pressure"`
	SchedLoadBalance      uint64   `json:"sched_load_balance"`
	SchedRelaxDomainLevel int64    `json:"sched_relax_domain_level"`
}

type memoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type memory struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     memoryEntry       `json:"usage,omitempty"`
	Swap      memoryEntry       `json:"swap,omitempty"`
	Kernel    memoryEntry       `json:"kernel,omitempty"`
	KernelTCP memoryEntry       `json:"kernelTCP,omitempty"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
	PSI       *cg.PSIStats      `json:"psi,omitempty"`
}

func convertStats(cs *cg.Stats) *stats {
	var s stats
	s.Pids = pids{Current: cs.PidsStats.Current, Limit: cs.PidsStats.Limit}
	u := cs.CpuStats.CpuUsage
	s.CPU.Usage = cpuUsage{Total: u.TotalUsage, Percpu: u.PercpuUsage, PercpuKernel: u.PercpuUsageInKernelmode,
		PercpuUser: u.PercpuUsageInUsermode, Kernel: u.UsageInKernelmode, User: u.UsageInUsermode}
	t := cs.CpuStats.ThrottlingData
	s.CPU.Throttling = throttling{Periods: t.Periods, ThrottledPeriods: t.ThrottledPeriods, ThrottledTime: t.ThrottledTime}
	s.CPU.PSI = cs.CpuStats.PSI
	s.CPUSet = cpuSet(cs.CPUSetStats)
	m := cs.MemoryStats
	s.Memory = memory{Cache: m.Cache, Usage: memEntry(m.Usage), Swap: memEntry(m.SwapUsage), Kernel: memEntry(m.KernelUsage),
		KernelTCP: memEntry(m.KernelTCPUsage), Raw: m.Stats, PSI: m.PSI}
	b := cs.BlkioStats
	s.Blkio = blkio{IoServiceBytesRecursive: blkioEntries(b.IoServiceBytesRecursive), IoServicedRecursive: blkioEntries(b.IoServicedRecursive),
		IoQueuedRecursive: blkioEntries(b.IoQueuedRecursive), IoServiceTimeRecursive: blkioEntries(b.IoServiceTimeRecursive),
		IoWaitTimeRecursive: blkioEntries(b.IoWaitTimeRecursive), IoMergedRecursive: blkioEntries(b.IoMergedRecursive),
		IoTimeRecursive: blkioEntries(b.IoTimeRecursive), SectorsRecursive: blkioEntries(b.SectorsRecursive), PSI: b.PSI}
	s.Hugetlb = map[string]hugetlb{}
	for k, v := range cs.HugetlbStats {
		s.Hugetlb[k] = hugetlb{Usage: v.Usage, Max: v.MaxUsage, Failcnt: v.Failcnt}
	}
	return &s
}

func memEntry(d cg.MemoryData) memoryEntry {
	return memoryEntry{Limit: d.Limit, Usage: d.Usage, Max: d.MaxUsage, Failcnt: d.Failcnt}
}

func blkioEntries(in []cg.BlkioStatEntry) []blkioEntry {
	var out []blkioEntry
	for _, e := range in {
		out = append(out, blkioEntry(e))
	}
	return out
}
