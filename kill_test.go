package main

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]unix.Signal{
		"KILL": unix.SIGKILL, "SIGKILL": unix.SIGKILL, "sigkill": unix.SIGKILL, "kill": unix.SIGKILL,
		"9": unix.SIGKILL, "15": unix.SIGTERM, "TERM": unix.SIGTERM, "SIGUSR1": unix.SIGUSR1,
		"HUP": unix.SIGHUP, "34": unix.Signal(34), "WINCH": unix.SIGWINCH,
	} {
		got, err := parseSignal(in)
		if err != nil || got != want {
			t.Errorf("parseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "NOPE", "SIG", "0", "-1", "65", "SIGKILLX"} {
		if _, err := parseSignal(bad); err == nil {
			t.Errorf("parseSignal(%q) accepted", bad)
		}
	}
}
