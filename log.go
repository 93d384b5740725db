package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// logger writes husk's messages where --log and --log-format say. Engines
// (containerd's shim, podman) read the runtime's error back from the --log
// file, so an error always goes there as well as to stderr.
type logger struct {
	file  io.WriteCloser
	json  bool
	debug bool
}

func (l *logger) open(path, format string, debug bool) error {
	switch format {
	case "text":
	case "json":
		l.json = true
	default:
		return fmt.Errorf("--log-format: invalid value %q (want text or json)", format)
	}
	l.debug = debug
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("open log file %s: %w", path, err)
	}
	l.file = f
	return nil
}

func (l *logger) write(level, msg string) {
	if l.file == nil {
		return
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if l.json {
		line, _ := json.Marshal(struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Time  string `json:"time"`
		}{level, msg, now})
		fmt.Fprintf(l.file, "%s\n", line)
		return
	}
	fmt.Fprintf(l.file, "time=%q level=%s msg=%q\n", now, level, msg)
}

// Error reports a failed command: one line on stderr and in the log.
func (l *logger) Error(err error) {
	l.write("error", err.Error())
	fmt.Fprintln(os.Stderr, "husk:", err)
}

// Warn reports what the spec calls a warning (the command goes on): one
// line on stderr and in the log.
func (l *logger) Warn(err error) {
	l.write("warning", err.Error())
	fmt.Fprintln(os.Stderr, "husk: warning:", err)
}

// Debugf logs only with --debug.
func (l *logger) Debugf(format string, args ...any) {
	if l.debug {
		l.write("debug", fmt.Sprintf(format, args...))
	}
}
