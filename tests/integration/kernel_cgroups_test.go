package integration

import "testing"

// The cgroup tests on a cgroup v2 host (the kernel lane's guest): limits
// from inside and from the host, eBPF device rules, the v2 freezer,
// update, events (stats and OOM through memory.events), and delete
// leaving no cgroup. They are the same tests the v1 host runs in
// TestCgroup*, reading the v2 files.
func needCgroup2(t *testing.T) {
	t.Helper()
	needKernel(t, cgroup2Only(), "a cgroup v2 (unified) host with the memory, cpu and pids controllers")
}

func TestKernelCgroup2Limits(t *testing.T)      { needCgroup2(t); testLimits(t) }
func TestKernelCgroup2Devices(t *testing.T)     { needCgroup2(t); testDevices(t) }
func TestKernelCgroup2PauseResume(t *testing.T) { needCgroup2(t); testPauseResume(t) }
func TestKernelCgroup2Update(t *testing.T)      { needCgroup2(t); testUpdate(t) }
func TestKernelCgroup2Events(t *testing.T)      { needCgroup2(t); testEvents(t) }
