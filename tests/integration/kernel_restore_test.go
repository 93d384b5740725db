package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A checkpoint restores into a fresh rootfs that has none of the mount
// points (as a container restored from an exported checkpoint, or on
// another host): husk makes them first, as runc does, including the one
// below a bind mount, which belongs in the bind's new source. The binds it
// needs for that never show on the host.
func TestKernelCheckpointRestoreFreshRootfs(t *testing.T) {
	needKernel(t, criuWorks(), "a working CRIU (`criu check`)")
	e := newEnv(t)
	nested := t.TempDir()
	os.WriteFile(filepath.Join(nested, "id"), []byte("nested"), 0o644)
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, []byte("file"), 0o644)
	bundle := func(content string) (rootfs, outer string) {
		rootfs, outer = copyRootfs(t), t.TempDir()
		// copyRootfs copies the shared template's top directories, where
		// other tests' containers made these mount points.
		os.Remove(filepath.Join(rootfs, "data"))
		os.Remove(filepath.Join(rootfs, "opt"))
		e.counterSpecData(content, func(s *specs.Spec) {
			s.Root.Path = rootfs
			s.Mounts = append(s.Mounts,
				specs.Mount{Destination: "/opt/restored/outer", Type: "bind", Source: outer, Options: []string{"rbind"}},
				specs.Mount{Destination: "/opt/restored/outer/nested", Type: "bind", Source: nested, Options: []string{"rbind", "ro"}},
				specs.Mount{Destination: "/etc/restored-file", Type: "bind", Source: file, Options: []string{"bind", "ro"}})
		})
		return rootfs, outer
	}
	bundle("first")
	e.must("run", "-d", e.id)
	boot := e.boot(e.id)
	c := e.waitCount(e.id, 3)
	img := filepath.Join(t.TempDir(), "img")
	e.must("checkpoint", "--image-path", img, e.id)
	e.assertGone(e.id, 0)

	rootfs, outer := bundle("second")
	for _, p := range []string{filepath.Join(rootfs, "opt/restored"), filepath.Join(rootfs, "data"), filepath.Join(rootfs, "etc/restored-file"), filepath.Join(outer, "nested")} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("test setup: %s exists before the restore", p)
		}
	}
	e.must("restore", "-d", "--image-path", img, e.id)
	e.sameBoot(e.id, boot)
	e.waitCount(e.id, c+2)
	for path, want := range map[string]string{"/data/id": "second", "/opt/restored/outer/nested/id": "nested", "/etc/restored-file": "file"} {
		if got := strings.TrimSpace(e.must("exec", e.id, "cat", path)); got != want {
			t.Errorf("restored container: %s shows %q, want %q", path, got, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(outer, "nested")); err != nil || !fi.IsDir() {
		t.Errorf("mount point below the bind mount: not made in its source %s: %v", outer, err)
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), rootfs) {
		t.Errorf("host mounts under the restored rootfs %s:\n%s", rootfs, mi)
	}
	e.must("delete", "--force", e.id)
	e.assertGone(e.id, 0)
	assertNoCgroup(t, e.id)
}
