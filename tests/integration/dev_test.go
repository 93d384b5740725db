package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestLinuxDevicesModesAndOwners(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sh", "-c", `stat -c '%n %A %u:%g %t,%T' /dev/husk-null /dev/sub/dir/zero /dev/husk-fifo /dev/null;
		`+mountinfoAwk+` | grep -E '^/dev/(pts|shm|mqueue) ' | cut -d' ' -f1; echo x > /dev/sub/dir/zero && echo written`)
	mode := os.FileMode(0o640)
	uid, gid := uint32(1000), uint32(2000)
	s.Linux.Devices = []specs.LinuxDevice{
		{Path: "/dev/husk-null", Type: "c", Major: 1, Minor: 3, FileMode: &mode, UID: &uid, GID: &gid},
		{Path: "/dev/sub/dir/zero", Type: "c", Major: 1, Minor: 5},
		{Path: "/dev/husk-fifo", Type: "p"},
	}
	e.write(s)
	r := e.husk("run", e.id)
	if r.code != 0 {
		t.Fatalf("run: %v", r)
	}
	for _, want := range []string{"/dev/husk-null crw-r----- 1000:2000 1,3\n", "/dev/sub/dir/zero crw-rw-rw- 0:0 1,5\n",
		"/dev/husk-fifo prw-rw-rw- 0:0", "/dev/null crw-rw-rw- 0:0 1,3\n", "/dev/pts\n/dev/shm\n/dev/mqueue\n", "written"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// In a user namespace mknod is not allowed: the host's nodes are bound.
func TestLinuxDevicesInUserNamespace(t *testing.T) {
	if _, err := os.Stat("/dev/kmsg"); err != nil {
		t.Skip("SKIP: the host has no /dev/kmsg to bind")
	}
	e := newEnv(t)
	s := e.spec("sh", "-c", `stat -c '%n %t,%T' /dev/kmsg /dev/null; grep -E ' /dev/(kmsg|null) ' /proc/self/mountinfo | wc -l`)
	userNSSpec(s)
	s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/kmsg", Type: "c", Major: 1, Minor: 11}}
	e.write(s)
	r := e.husk("run", e.id)
	if r.code != 0 || !strings.Contains(r.stdout, "/dev/kmsg 1,b\n/dev/null 1,3\n2\n") {
		t.Fatalf("run: %v", r)
	}
}

func TestMaskedAndReadonlyPathKinds(t *testing.T) {
	e := newEnv(t)
	rootfs := copyRootfs(t)
	os.MkdirAll(filepath.Join(rootfs, "secret", "dir"), 0o755)
	os.WriteFile(filepath.Join(rootfs, "secret", "dir", "key"), []byte("k"), 0o644)
	os.WriteFile(filepath.Join(rootfs, "secret", "file"), []byte("f"), 0o644)
	os.MkdirAll(filepath.Join(rootfs, "data"), 0o755)
	// A masked path through a symlink that points out of the rootfs is
	// resolved inside it.
	os.Symlink("/../../../../etc/hostname", filepath.Join(rootfs, "hostlink"))
	os.WriteFile(filepath.Join(rootfs, "etc", "hostname"), []byte("inside\n"), 0o644)
	s := e.spec("sh", "-c", `ls -A /secret/dir | wc -l; cat /secret/file | wc -c; stat -c '%t,%T' /secret/file;
		touch /secret/dir/x 2>/dev/null || echo masked-dir-readonly; touch /data/x 2>/dev/null || echo data-readonly;
		touch /tmp/x && echo tmp-writable; echo "hostname bytes $(wc -c < /etc/hostname)"`)
	s.Root.Path = rootfs
	s.Root.Readonly = false
	s.Linux.MaskedPaths = []string{"/secret/dir", "/secret/file", "/nonexistent", "/hostlink"}
	s.Linux.ReadonlyPaths = []string{"/data", "/nonexistent2"}
	e.write(s)
	r := e.husk("run", e.id)
	if r.code != 0 {
		t.Fatalf("run: %v", r)
	}
	for _, want := range []string{"0\n0\n1,3\n", "masked-dir-readonly", "data-readonly", "tmp-writable", "hostname bytes 0\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestDevConsoleIsTheTerminal(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sh", "-c", `stat -c 'console %t' /dev/console; stat -c 'stdin %t' -L /proc/self/fd/0`)
	s.Process.Terminal = true
	e.write(s)
	out, err := e.huskOnPty("run", e.id)
	if err != nil {
		t.Fatalf("run: %v: %q", err, out)
	}
	// Both are on the container's devpts (major 136 = 0x88).
	if !strings.Contains(out, "console 88") || !strings.Contains(out, "stdin 88") {
		t.Fatalf("output %q", out)
	}
}

// Masks and read-only paths do not go through the container's /proc,
// which the config may leave out (or the image may fake with a symlink).
func TestMasksWithoutContainerProc(t *testing.T) {
	e := newEnv(t)
	rootfs := copyRootfs(t)
	os.MkdirAll(filepath.Join(rootfs, "data"), 0o755)
	os.WriteFile(filepath.Join(rootfs, "secret"), []byte("s"), 0o644)
	// A fake /proc whose self/fd entries point at /data.
	os.Remove(filepath.Join(rootfs, "proc"))
	os.MkdirAll(filepath.Join(rootfs, "fakeproc", "self"), 0o755)
	os.Symlink("/data", filepath.Join(rootfs, "fakeproc", "self", "fd"))
	os.Symlink("/fakeproc", filepath.Join(rootfs, "proc"))
	s := e.spec("sh", "-c", `wc -c < /secret; touch /data/x 2>/dev/null || echo data-readonly; ls /data | wc -l`)
	s.Root.Path = rootfs
	s.Root.Readonly = false
	s.Mounts = s.Mounts[1:] // no /proc
	s.Linux.MaskedPaths = []string{"/secret"}
	s.Linux.ReadonlyPaths = []string{"/data"}
	e.write(s)
	r := e.husk("run", e.id)
	if r.code != 0 || r.stdout != "0\ndata-readonly\n0\n" {
		t.Fatalf("run: %v", r)
	}
}
