package main

import (
	"errors"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// foreground is husk waiting for a process it started (run without -d,
// exec without -d): husk is a child subreaper (nsenter forks the process,
// so it is a grandchild), forwards the signals it gets to the process, and
// exits with its status.
type foreground struct {
	sigs chan os.Signal
}

// startForeground must be called before the process exists, so no signal
// is lost.
func startForeground() (*foreground, error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, err
	}
	fg := &foreground{sigs: make(chan os.Signal, 128)}
	signal.Notify(fg.sigs)
	return fg, nil
}

func (fg *foreground) stop() { signal.Stop(fg.sigs) }

// wait forwards signals to pid until it exits and returns its status.
func (fg *foreground) wait(pid int) int { return waitForeground(pid, fg.sigs) }

// waitForeground forwards signals to pid until it exits, reaping every
// child that comes our way, and returns the status to exit with (128+n
// for a process killed by signal n).
func waitForeground(pid int, sigs chan os.Signal) int {
	for {
		// Reap first: the process may have exited before we got here.
		for {
			var ws unix.WaitStatus
			p, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err != nil || p <= 0 {
				if errors.Is(err, unix.ECHILD) {
					return 255 // lost the process (should not happen)
				}
				break
			}
			if p == pid {
				if ws.Signaled() {
					return 128 + int(ws.Signal())
				}
				return ws.ExitStatus()
			}
		}
		switch s := (<-sigs).(unix.Signal); s {
		case unix.SIGCHLD, unix.SIGWINCH, unix.SIGURG, unix.SIGPIPE:
			// SIGCHLD: loop and reap. SIGWINCH is the terminal proxy's,
			// SIGURG the Go scheduler's; neither is meant for the
			// container.
		default:
			unix.Kill(pid, s)
		}
	}
}
