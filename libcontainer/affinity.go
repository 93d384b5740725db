package libcontainer

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/huskrt/husk/libcontainer/config"
)

// setInitialAffinity applies process.execCPUAffinity.initial to the
// process that becomes init, before it joins the container's cgroup (a
// cpuset there then sets its own mask; init applies "final" just before
// exec). nsenter is still single-threaded, so the pid's mask is the
// process's, and init inherits it.
func setInitialAffinity(pid int, p *specs.Process) error {
	if p.ExecCPUAffinity == nil || p.ExecCPUAffinity.Initial == "" {
		return nil
	}
	set, err := config.ParseCPUList(p.ExecCPUAffinity.Initial)
	if err != nil {
		return fmt.Errorf("process.execCPUAffinity.initial: %w", err)
	}
	if err := unix.SchedSetaffinity(pid, set); err != nil {
		return fmt.Errorf("process.execCPUAffinity.initial %s: sched_setaffinity: %w", p.ExecCPUAffinity.Initial, err)
	}
	return nil
}
