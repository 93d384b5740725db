package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The lane's guest has no network, only lo: CRIU's page server and lazy
// pages talk TCP over it.
func loUp(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v %s", err, out)
	}
}

// startWithStatus starts a background command that gets the write end of
// a pipe as fd 3 (its --status-fd) and waits, 30 s at most, for the \0
// it writes there once it serves.
func startWithStatus(t *testing.T, cmd *exec.Cmd) *background {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.ExtraFiles = []*os.File{w}
	b := start(t, cmd)
	w.Close()
	ready := make(chan error, 1)
	go func() {
		b := make([]byte, 1)
		_, err := r.Read(b)
		r.Close()
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatalf("%v: no readiness byte on its status fd: %v", cmd.Args, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%v: not ready after 30s", cmd.Args)
	}
	return b
}

// --page-server: the memory pages go to a separate `criu page-server`,
// the rest to the image path; together they restore.
func TestKernelCheckpointPageServer(t *testing.T) {
	needKernel(t, criuWorks(), "a working CRIU (`criu check`)")
	loUp(t)
	e := newEnv(t)
	boot, c := e.runCounter()
	pages, img := t.TempDir(), filepath.Join(t.TempDir(), "img")
	port := strconv.Itoa(27000 + os.Getpid()%1000)
	server := startWithStatus(t, exec.Command("criu", "page-server", "--images-dir", pages,
		"--address", "127.0.0.1", "--port", port, "--status-fd", "3"))
	e.must("checkpoint", "--page-server", "127.0.0.1:"+port, "--image-path", img, e.id)
	e.assertGone(e.id, 0)
	server.wait(t)
	if got, _ := filepath.Glob(filepath.Join(pages, "pages-*.img")); len(got) == 0 {
		t.Fatalf("the page server received no pages (%s is empty)", pages)
	}
	if local, _ := filepath.Glob(filepath.Join(img, "pages-*.img")); len(local) != 0 {
		t.Fatalf("pages were written to the image path too: %v", local)
	}
	// The images of both sides make one checkpoint.
	got, _ := os.ReadDir(pages)
	for _, f := range got {
		data, err := os.ReadFile(filepath.Join(pages, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(img, f.Name()), data, 0o600)
	}
	e.restore(img, "-d", e.id)
	e.sameBoot(e.id, boot)
	e.waitCount(e.id, c+2)
	e.must("delete", "--force", e.id)
	e.assertGone(e.id, 0)
}

// --lazy-pages: checkpoint stays up as a page server and says so on
// --status-fd; the restore (under a new id: the original is only gone
// once its last page has moved) runs with its pages fetched on demand
// through `criu lazy-pages`.
func TestKernelCheckpointLazyPages(t *testing.T) {
	needKernel(t, criuWorks(), "a working CRIU (`criu check`)")
	needKernel(t, exec.Command("criu", "check", "--feature", "uffd-noncoop").Run() == nil, "userfaultfd for CRIU (`criu check --feature uffd-noncoop`)")
	loUp(t)
	e := newEnv(t)
	boot, c := e.runCounter()
	img, work := filepath.Join(t.TempDir(), "img"), t.TempDir()
	port := strconv.Itoa(28000 + os.Getpid()%1000)
	cpt := exec.Command(huskBin, "--root", e.root, "checkpoint", "--lazy-pages", "--page-server", "127.0.0.1:"+port,
		"--status-fd", "3", "--image-path", img, "--work-path", work, e.id)
	cpt.Dir = e.bundle
	dumped := startWithStatus(t, cpt)
	lazy := start(t, exec.Command("criu", "lazy-pages", "--page-server", "--address", "127.0.0.1", "--port", port, "--images-dir", img))
	id := e.id + "-lazy"
	e.restore(img, "-d", "--lazy-pages", id)
	e.sameBoot(id, boot)
	e.waitCount(id, c+2)
	dumped.wait(t)
	lazy.wait(t)
	e.assertGone(e.id, 0)
	e.must("delete", "--force", id)
	e.assertGone(id, 0)
	assertNoCgroup(t, id)
}

// restore restores from img and fails the test with the end of CRIU's
// log when it does not succeed.
func (e *env) restore(img string, args ...string) {
	e.t.Helper()
	if r := e.husk(append([]string{"restore", "--image-path", img}, args...)...); r.code != 0 {
		log, _ := os.ReadFile(filepath.Join(img, "restore.log"))
		e.t.Fatalf("restore: %v\nrestore.log tail:\n%s", r, tail(string(log), 40))
	}
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
