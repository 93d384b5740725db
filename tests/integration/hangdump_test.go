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
		if args == "" {
			continue // kernel threads: never the ones a runtime hangs on
		}
		if len(args) > 200 {
			args = args[:200] + "..."
		}
		wchan, _ := os.ReadFile(filepath.Join(d, "wchan"))
		fmt.Fprintf(&b, "%s state=%s ppid=%s wchan=%s %s\n", filepath.Base(d), fields[0], fields[1], wchan, args)
		if fields[0] == "D" || strings.Contains(args, "husk") || strings.Contains(args, "criu") {
			if stack, err := os.ReadFile(filepath.Join(d, "stack")); err == nil {
				for _, l := range strings.Split(strings.TrimSpace(string(stack)), "\n") {
					fmt.Fprintf(&b, "    %s\n", l)
				}
			}
		}
	}
	t.Log(b.String())
}
