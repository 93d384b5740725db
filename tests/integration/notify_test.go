package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// sdNotify is a static program the container runs to send one datagram
// to $NOTIFY_SOCKET (busybox has no sd_notify).
const sdNotifySrc = `package main

import (
	"os"
	"syscall"
)

func main() {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err == nil {
		err = syscall.Sendto(fd, []byte(os.Args[1]), 0, &syscall.SockaddrUnix{Name: os.Getenv("NOTIFY_SOCKET")})
	}
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
}
`

var sdNotifyOnce sync.Once
var sdNotifyBin string

func sdNotify(t *testing.T) string {
	sdNotifyOnce.Do(func() {
		dir, err := os.MkdirTemp("", "husk-it-sdnotify-")
		if err != nil {
			panic(err)
		}
		src := filepath.Join(dir, "main.go")
		os.WriteFile(src, []byte(sdNotifySrc), 0o644)
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "sd-notify"), src)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GO111MODULE=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			panic("build sd-notify helper: " + err.Error() + ": " + string(out))
		}
		sdNotifyBin = filepath.Join(dir, "sd-notify")
	})
	return sdNotifyBin
}

// listenHost is the "systemd" side: a datagram socket collecting messages.
func listenHost(t *testing.T) (string, func() []string) {
	p := filepath.Join(t.TempDir(), "host-notify.sock")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: p}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	recv := func() []string {
		var msgs []string
		buf := make([]byte, 4096)
		for {
			n, _, err := syscall.Recvfrom(fd, buf, syscall.MSG_DONTWAIT)
			if err != nil {
				return msgs
			}
			msgs = append(msgs, string(buf[:n]))
		}
	}
	return p, recv
}

func notifySpec(e *env, script string) *specs.Spec {
	s := e.spec("sh", "-c", script)
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/sd-notify", Type: "bind", Source: sdNotify(e.t), Options: []string{"bind", "ro"}})
	return s
}

// TestNotifySocketCreateStart: with NOTIFY_SOCKET set, the container gets
// its own socket and NOTIFY_SOCKET; `start` returns once READY=1 is
// forwarded to the host socket, with MAINPID the container's init.
func TestNotifySocketCreateStart(t *testing.T) {
	e := newEnv(t)
	host, recv := listenHost(t)
	e.write(notifySpec(e, `/sd-notify "STATUS=starting" && sleep 0.3 && /sd-notify "READY=1" && sleep 100`))
	withNotify := func(c *exec.Cmd) { c.Env = append(os.Environ(), "NOTIFY_SOCKET="+host) }
	if r := e.huskCmd(withNotify, "create", e.id); r.code != 0 {
		t.Fatalf("create: %v", r)
	}
	pid := e.state(e.id).Pid
	if r := e.huskCmd(withNotify, "start", e.id); r.code != 0 {
		t.Fatalf("start: %v", r)
	}
	// start returned only after READY=1 was forwarded.
	got := recv()
	want := []string{"STATUS=starting", "READY=1\nMAINPID=" + strconv.Itoa(pid)}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("host socket got %q, want %q", got, want)
	}
	e.must("delete", "--force", e.id)
	e.assertGone(e.id, pid)
}

// TestNotifySocketRunForeground: `run` forwards while it waits.
func TestNotifySocketRunForeground(t *testing.T) {
	e := newEnv(t)
	host, recv := listenHost(t)
	e.write(notifySpec(e, `echo "$NOTIFY_SOCKET"; /sd-notify "READY=1"`))
	r := e.huskCmd(func(c *exec.Cmd) { c.Env = append(os.Environ(), "NOTIFY_SOCKET="+host) }, "run", e.id)
	if r.code != 0 || r.stdout != "/run/notify/notify.sock\n" {
		t.Fatalf("run: %v", r)
	}
	// run forwards what the container sent before it exits.
	if got := recv(); len(got) != 1 || got[0] != "READY=1" {
		t.Fatalf("host socket got %q", got)
	}
	e.assertGone(e.id, 0)
}
