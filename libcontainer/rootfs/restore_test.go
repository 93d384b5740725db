package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// PrepareRestore makes the mount points a restore needs in a rootfs that
// lacks them: inside the rootfs even through a symlink to "/", below a
// bind mount in the bind's source, none under a tmpfs, and without a
// single mount left on the host.
func TestPrepareRestore(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIP: needs root to unshare a mount namespace")
	}
	rootfs, data, nested := t.TempDir(), t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755)
	os.Symlink("/", filepath.Join(rootfs, "evil"))
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, []byte("x"), 0o644)
	escape := "husk-restore-escape-" + filepath.Base(rootfs)
	spec := &specs.Spec{Mounts: []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"},
		{Destination: "/tmp/under", Type: "bind", Source: data, Options: []string{"bind"}},
		{Destination: "/mnt/a/b", Type: "bind", Source: data, Options: []string{"rbind", "ro"}},
		{Destination: "/mnt/a/b/nested", Type: "bind", Source: nested, Options: []string{"bind"}},
		{Destination: "/etc/hostfile", Type: "bind", Source: file, Options: []string{"bind"}},
		{Destination: "/evil/" + escape, Type: "tmpfs", Source: "tmpfs"},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup"},
	}}
	before, _ := os.ReadFile("/proc/self/mountinfo")
	if err := PrepareRestore(spec, rootfs, "/"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		dir  bool
	}{
		{"proc", true}, {"tmp", true}, {"mnt/a/b", true}, {"etc/hostfile", false}, {escape, true},
	} {
		fi, err := os.Lstat(filepath.Join(rootfs, c.path))
		if err != nil || fi.IsDir() != c.dir {
			t.Errorf("mount point %s: %v (dir %v, want %v)", c.path, err, err == nil && fi.IsDir(), c.dir)
		}
	}
	if fi, err := os.Stat(filepath.Join(data, "nested")); err != nil || !fi.IsDir() {
		t.Errorf("the mount point below the bind mount was not made in its source: %v", err)
	}
	for _, p := range []string{"mnt/a/b/nested", "tmp/under", "sys/fs/cgroup"} {
		if _, err := os.Lstat(filepath.Join(rootfs, p)); err == nil {
			t.Errorf("%s was created in the rootfs", p)
		}
	}
	if _, err := os.Lstat("/" + escape); err == nil {
		os.Remove("/" + escape)
		t.Errorf("a mount point was created on the host through the rootfs's symlink to /")
	}
	after, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(after), data) || len(after) != len(before) {
		t.Errorf("host mounts changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// A bind source that does not exist is named in the error.
func TestPrepareRestoreMissingSource(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIP: needs root to unshare a mount namespace")
	}
	missing := filepath.Join(t.TempDir(), "gone")
	spec := &specs.Spec{Mounts: []specs.Mount{{Destination: "/data", Type: "bind", Source: missing, Options: []string{"bind"}}}}
	err := PrepareRestore(spec, t.TempDir(), "/")
	if err == nil || !strings.Contains(err.Error(), "/data") || !strings.Contains(err.Error(), missing) {
		t.Fatalf("error %v, want one naming /data and %s", err, missing)
	}
}

// The bind source of a hierarchy is the process's cgroup in it: by its
// first controller for cpu,cpuacct, by name= for name=systemd, "" for the
// hybrid cgroup2.
func TestCgroupBindSource(t *testing.T) {
	// /proc/PID/cgroup "12:pids:/husk/c1\n5:cpu,cpuacct:/husk/c1-cpu\n1:name=systemd:/sd\n0::/unified-c1\n"
	// as cgroups.ParseCgroupFile gives it.
	paths := map[string]string{"pids": "/husk/c1", "cpu": "/husk/c1-cpu", "cpuacct": "/husk/c1-cpu", "name=systemd": "/sd", "": "/unified-c1"}
	for _, c := range []struct {
		mnt, fstype, opts, want string
	}{
		{"/sys/fs/cgroup/pids", "cgroup", "rw,pids", "/sys/fs/cgroup/pids/husk/c1"},
		{"/sys/fs/cgroup/cpu,cpuacct", "cgroup", "rw,cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/husk/c1-cpu"},
		{"/sys/fs/cgroup/systemd", "cgroup", "rw,xattr,name=systemd", "/sys/fs/cgroup/systemd/sd"},
		{"/sys/fs/cgroup/unified", "cgroup2", "rw,nsdelegate", "/sys/fs/cgroup/unified/unified-c1"},
	} {
		h := &mountinfo.Info{Mountpoint: c.mnt, FSType: c.fstype, VFSOptions: c.opts}
		if got := CgroupBindSource(h, paths); got != c.want {
			t.Errorf("%s: %s, want %s", c.mnt, got, c.want)
		}
	}
}
