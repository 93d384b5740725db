package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dumpProcs logs every process on the machine with its state, wait channel
// and kernel stack. The tests call it when a husk call times out: a hang in
// the kernel lane happens inside a guest that is gone by the time anyone
// looks, so the log is the only place the evidence can survive.
func dumpProcs(t *testing.T, why string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "process dump (%s):\n", why)
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		// Fields after the ")" that closes comm: state ppid ...
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(d, "cmdline"))
		args := strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
		if fields[1] == "2" || filepath.Base(d) == "2" {
			continue // kernel threads: never the ones a runtime hangs on
		}
		if args == "" {
			// A zombie, or a leader whose other threads have not exited
			// (one stuck in the kernel keeps it from being reaped).
			args = "[" + s[strings.IndexByte(s, '(')+1:i] + "]"
		}
		if len(args) > 200 {
			args = args[:200] + "..."
		}
		wchan, _ := os.ReadFile(filepath.Join(d, "wchan"))
		fmt.Fprintf(&b, "%s state=%s ppid=%s wchan=%s %s\n", filepath.Base(d), fields[0], fields[1], wchan, args)
		if fields[0] == "D" || fields[0] == "Z" || strings.Contains(args, "husk") || strings.Contains(args, "criu") {
			// Every thread: the one stuck is rarely the leader.
			tasks, _ := filepath.Glob(filepath.Join(d, "task", "[0-9]*"))
			for _, task := range tasks {
				tstat, _ := os.ReadFile(filepath.Join(task, "stat"))
				state := "?"
				if j := strings.LastIndexByte(string(tstat), ')'); j >= 0 && len(tstat) > j+2 {
					state = string(tstat[j+2])
				}
				fmt.Fprintf(&b, "  thread %s state=%s\n", filepath.Base(task), state)
				if stack, err := os.ReadFile(filepath.Join(task, "stack")); err == nil {
					for _, l := range strings.Split(strings.TrimSpace(string(stack)), "\n") {
						fmt.Fprintf(&b, "    %s\n", l)
					}
				}
			}
		}
	}
	t.Log(b.String())
}
