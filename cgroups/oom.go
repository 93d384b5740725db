package cgroups

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// NotifyOOM sends on the returned channel each time the OOM killer acts in
// the container's cgroup, and closes it when the cgroup goes away. v1
// uses the memory controller's eventfd notification, v2 watches
// memory.events with inotify.
func (c *Cgroup) NotifyOOM() (<-chan struct{}, error) {
	dir, v2 := c.MemoryPath()
	if dir == "" {
		return nil, fmt.Errorf("container has no memory cgroup")
	}
	if v2 {
		return notifyOOMv2(dir)
	}
	return notifyOOMv1(dir)
}

func notifyOOMv1(dir string) (<-chan struct{}, error) {
	ctl, err := os.Open(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		return nil, fmt.Errorf("open memory.oom_control: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		ctl.Close()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := os.NewFile(uintptr(efd), "oom-eventfd")
	line := strconv.Itoa(efd) + " " + strconv.Itoa(int(ctl.Fd()))
	if err := os.WriteFile(filepath.Join(dir, "cgroup.event_control"), []byte(line), 0); err != nil {
		ev.Close()
		ctl.Close()
		return nil, fmt.Errorf("register OOM notification: %w", err)
	}
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		defer ev.Close()
		defer ctl.Close()
		buf := make([]byte, 8)
		for {
			if _, err := ev.Read(buf); err != nil || binary.LittleEndian.Uint64(buf) == 0 {
				return
			}
			// The eventfd also fires when the cgroup is removed.
			if _, err := os.Lstat(filepath.Join(dir, "memory.oom_control")); err != nil {
				return
			}
			ch <- struct{}{}
		}
	}()
	return ch, nil
}

func notifyOOMv2(dir string) (<-chan struct{}, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, filepath.Join(dir, "memory.events"), unix.IN_MODIFY); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watch memory.events: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, filepath.Join(dir, "cgroup.events"), unix.IN_MODIFY); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watch cgroup.events: %w", err)
	}
	f := os.NewFile(uintptr(fd), "oom-inotify")
	last := eventValue(dir, "memory.events", "oom_kill")
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		defer f.Close()
		buf := make([]byte, 4096)
		for {
			if _, err := f.Read(buf); err != nil {
				return
			}
			if n := eventValue(dir, "memory.events", "oom_kill"); n > last {
				last = n
				ch <- struct{}{}
			}
			// No process left: the container is gone.
			if eventValue(dir, "cgroup.events", "populated") == 0 {
				return
			}
		}
	}()
	return ch, nil
}

// eventValue reads one "key value" line of a cgroup v2 events file.
func eventValue(dir, file, key string) uint64 {
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, _ := strconv.ParseUint(v, 10, 64)
			return n
		}
	}
	return 0
}
