package libcontainer

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestProcStatReadsOwnStartTime(t *testing.T) {
	start, state, err := procStat(os.Getpid())
	if err != nil || start == 0 || state == 'Z' {
		t.Fatalf("procStat(self) = %d, %c, %v", start, state, err)
	}
	if !processAlive(os.Getpid(), start) {
		t.Fatal("processAlive(self, own start) = false")
	}
	// The same pid with another start time is a different process.
	if processAlive(os.Getpid(), start+1) {
		t.Fatal("processAlive accepted a wrong start time (pid reuse not detected)")
	}
}

func TestStatusDerivedFromProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	start, _, _ := procStat(cmd.Process.Pid)
	st := &State{Pid: cmd.Process.Pid, PidStart: start, Phase: Created}
	if s := st.Status(dir); s != Running {
		t.Fatalf("no fifo, live process: %s, want running", s)
	}
	os.WriteFile(filepath.Join(dir, fifoName), nil, 0o600)
	if s := st.Status(dir); s != Created {
		t.Fatalf("fifo present, live process: %s, want created", s)
	}
	st.Phase = Creating
	if s := st.Status(dir); s != Creating {
		t.Fatalf("creating phase: %s", s)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if s := st.Status(dir); s != Stopped {
		t.Fatalf("dead process: %s, want stopped", s)
	}
	if s := (&State{}).Status(dir); s != Stopped {
		t.Fatalf("no pid: %s, want stopped", s)
	}
}

func TestHandleSaveLockRemove(t *testing.T) {
	root := t.TempDir()
	h, err := newHandle(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newHandle(root, "c1"); err == nil {
		t.Fatal("second newHandle of one id succeeded")
	}
	h.State = State{ID: "c1", Bundle: "/b", Created: time.Now().UTC()}
	if err := h.Save(); err != nil {
		t.Fatal(err)
	}
	st, err := ReadState(root, "c1")
	if err != nil || st.Bundle != "/b" {
		t.Fatalf("ReadState = %+v, %v", st, err)
	}
	// The lock is exclusive: a second Lock waits until Close.
	got := make(chan error, 1)
	go func() {
		h2, err := Lock(root, "c1")
		if err == nil {
			h2.Close()
		}
		got <- err
	}()
	select {
	case <-got:
		t.Fatal("Lock did not wait for the holder")
	case <-time.After(100 * time.Millisecond):
	}
	// Remove under the lock: the waiter then sees the container gone.
	if err := h.Remove(); err != nil {
		t.Fatal(err)
	}
	h.Close()
	if err := <-got; !errors.Is(err, ErrNotExist) {
		t.Fatalf("Lock after Remove: %v, want ErrNotExist", err)
	}
	if _, err := ReadState(root, "c1"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("ReadState after Remove: %v", err)
	}
	// No temp files are left behind by Save.
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Fatalf("root not empty: %v", entries)
	}
}
