package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/huskrt/husk/libcontainer/config"
)

// PrepareRestore creates in rootfs the mount points CRIU needs to restore
// spec's mounts, as init does at create: CRIU mounts onto existing
// directories and files only, so restoring into a fresh rootfs (a new
// container from an exported checkpoint, another host) would fail on the
// first mount point the image lacks. Mounts under a tmpfs are skipped:
// CRIU restores a tmpfs with its content, mount points included.
//
// A bind mount with other mounts below it is bind-mounted for a moment so
// that their mount points are made inside its source, where the container
// sees them. Those binds are made in a mount namespace private to one
// thread, which ends with the thread: nothing ever appears on the host,
// and nothing can be left there.
func PrepareRestore(spec *specs.Spec, rootfs, bundle string) error {
	return onThrowawayThread(func() error { return prepareRestore(spec, rootfs, bundle) })
}

// onThrowawayThread runs f on an OS thread that ends when f returns, so
// that whatever f changes for its thread (here a private mount namespace)
// ends with it.
func onThrowawayThread(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the Go runtime ends a locked thread when its
		// goroutine returns...
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// ...except the main thread, which it parks instead, and
			// /proc/self is the main thread's view. Hold this one and
			// run f elsewhere: the new goroutine cannot get it now.
			errc <- onThrowawayThread(f)
			runtime.UnlockOSThread()
			return
		}
		errc <- f()
	}()
	return <-errc
}

func prepareRestore(spec *specs.Spec, rootfs, bundle string) error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("restore mount points: unshare mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("restore mount points: make / rslave: %w", err)
	}
	// Opened after the unshare, so lookups see this namespace's binds.
	root, err := os.OpenFile(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("restore mount points: rootfs: %w", err)
	}
	defer root.Close()
	var tmpfs []string
	for _, m := range spec.Mounts {
		if m.Type == "tmpfs" {
			tmpfs = append(tmpfs, filepath.Clean("/"+m.Destination))
		}
	}
	for i, m := range spec.Mounts {
		dest := filepath.Clean("/" + m.Destination)
		if below(dest, tmpfs) || m.Type == "cgroup" || m.Type == "cgroup2" {
			// cgroup: v1's tree is inside a tmpfs CRIU restores, v2's
			// mount point is in /sys.
			continue
		}
		if err := prepareOne(root, m, dest, bundle, hasMountBelow(dest, spec.Mounts[i+1:])); err != nil {
			return fmt.Errorf("restore mount point %s: %w", m.Destination, err)
		}
	}
	return nil
}

func prepareOne(root *os.File, m specs.Mount, dest, bundle string, parent bool) error {
	if !config.IsBind(m) {
		d, err := mkdirInRoot(root, dest)
		if err != nil {
			return err
		}
		return d.Close()
	}
	src := m.Source
	if !filepath.IsAbs(src) {
		src = filepath.Join(bundle, src)
	}
	var st unix.Stat_t
	if err := unix.Stat(src, &st); err != nil {
		return fmt.Errorf("bind source %s: %w", src, err)
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	d, err := makeDest(root, dest, isDir)
	if err != nil {
		return err
	}
	defer d.Close()
	if !isDir || !parent {
		return nil
	}
	if err := unix.Mount(src, fdPath(d), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s for the mount points below it: %w", src, err)
	}
	return nil
}

// below reports whether dest lies strictly under one of dirs.
func below(dest string, dirs []string) bool {
	for _, d := range dirs {
		if dest != d && (d == "/" || strings.HasPrefix(dest, d+"/")) {
			return true
		}
	}
	return false
}

// hasMountBelow reports whether a later mount goes under dest.
func hasMountBelow(dest string, later []specs.Mount) bool {
	for _, m := range later {
		if below(filepath.Clean("/"+m.Destination), []string{dest}) {
			return true
		}
	}
	return false
}
