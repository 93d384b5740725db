package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountLines runs script in a container with mounts and returns, for each
// mount point the script's awk prints, "mountpoint opts optional-fields".
const mountinfoAwk = `awk '{opt=""; for (i=7; $i!="-"; i++) opt=opt $i " "; print $5, $6, opt}' /proc/self/mountinfo`

func mountLine(t *testing.T, out, mp string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, mp+" ") {
			return l
		}
	}
	t.Fatalf("no mount at %s in:\n%s", mp, out)
	return ""
}

func TestMountOptionsInMountinfo(t *testing.T) {
	e := newEnv(t)
	host := t.TempDir()
	os.MkdirAll(filepath.Join(host, "sub"), 0o755)
	// A submount on the host side, to see what the recursive options reach.
	if err := unix.Mount("tmpfs", filepath.Join(host, "sub"), "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(filepath.Join(host, "sub"), unix.MNT_DETACH) })
	// Shared on the host, so the container's copy has a master to show.
	if err := unix.Mount("", filepath.Join(host, "sub"), "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	s := e.spec("sh", "-c", mountinfoAwk)
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/m/bind", Type: "bind", Source: host, Options: []string{"bind", "ro", "nosuid", "nodev", "noexec", "noatime"}},
		specs.Mount{Destination: "/m/rro", Type: "bind", Source: host, Options: []string{"rbind", "rro", "rnosuid", "rnoatime"}},
		specs.Mount{Destination: "/m/plainrbind", Type: "bind", Source: host, Options: []string{"rbind", "ro"}},
		specs.Mount{Destination: "/m/strict", Type: "tmpfs", Source: "tmpfs", Options: []string{"strictatime", "nodiratime", "size=1m"}},
		specs.Mount{Destination: "/m/shared", Type: "tmpfs", Source: "tmpfs", Options: []string{"shared"}},
		specs.Mount{Destination: "/m/unbindable", Type: "tmpfs", Source: "tmpfs", Options: []string{"unbindable"}},
		specs.Mount{Destination: "/m/private", Type: "tmpfs", Source: "tmpfs", Options: []string{"rprivate"}},
		// The host's shared submount stays a slave of the host's.
		specs.Mount{Destination: "/m/slave", Type: "bind", Source: host, Options: []string{"rbind", "rslave"}},
	)
	e.write(s)
	r := e.husk("run", e.id)
	if r.code != 0 {
		t.Fatalf("run: %v", r)
	}
	for mp, want := range map[string][]string{
		"/m/bind":           {"ro,nosuid,nodev,noexec,noatime "},
		"/m/rro":            {"ro,nosuid,noatime "},
		"/m/rro/sub":        {"ro,nosuid,noatime "},
		"/m/plainrbind":     {"/m/plainrbind ro,"},
		"/m/plainrbind/sub": {"rw,"}, // plain ro reaches the top mount only
		"/m/strict":         {"rw,nodiratime "},
		"/m/shared":         {"shared:"},
		"/m/unbindable":     {"unbindable"},
		"/m/slave/sub":      {"master:"},
	} {
		line := mountLine(t, r.stdout, mp)
		for _, w := range want {
			if !strings.Contains(line, w) {
				t.Errorf("mount %s: %q lacks %q", mp, line, w)
			}
		}
	}
	if l := mountLine(t, r.stdout, "/m/private"); strings.Contains(l, "shared:") || strings.Contains(l, "master:") {
		t.Errorf("rprivate mount propagates: %q", l)
	}
	if l := mountLine(t, r.stdout, "/m/slave/sub"); strings.Contains(l, "shared:") {
		t.Errorf("rslave mount is still shared: %q", l)
	}
	os.RemoveAll(filepath.Join(s.Root.Path, "m"))
}

func TestRootfsPropagation(t *testing.T) {
	for prop, want := range map[string]string{"rprivate": "private", "private": "private", "rslave": "master:", "": "master:",
		"slave": "master:", "rshared": "shared:", "shared": "shared:", "runbindable": "unbindable", "unbindable": "unbindable"} {
		t.Run("prop="+prop, func(t *testing.T) {
			e := newEnv(t)
			s := e.spec("sh", "-c", mountinfoAwk)
			// The rootfs on a shared mount of the host, so that a slave
			// shows its master.
			rootfs := copyRootfs(t)
			if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND, ""); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unix.Unmount(rootfs, unix.MNT_DETACH) })
			if err := unix.Mount("", rootfs, "", unix.MS_SHARED, ""); err != nil {
				t.Fatal(err)
			}
			s.Root.Path = rootfs
			s.Linux.RootfsPropagation = prop
			e.write(s)
			r := e.husk("run", e.id)
			if r.code != 0 {
				t.Fatalf("run: %v", r)
			}
			l := mountLine(t, r.stdout, "/")
			if want == "private" && (strings.Contains(l, "master:") || strings.Contains(l, "shared:")) {
				t.Errorf("root %q is not private", l)
			} else if want != "private" && !strings.Contains(l, want) {
				t.Errorf("root %q lacks %q", l, want)
			}
		})
	}
}

func TestTmpcopyupAndMissingDestinations(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sh", "-c", `ls -ln /etc/passwd | awk '{print $1}'; cat /etc/group | head -1; readlink /etc/link;
		stat -c '%a' /etc; touch /etc/new && echo etc-writable; ls -d /new/deep/dir; `+mountinfoAwk+` | grep '^/etc '`)
	// A symlink inside /etc of the image is copied as a symlink.
	os.Symlink("passwd", filepath.Join(s.Root.Path, "etc", "link"))
	t.Cleanup(func() { os.Remove(filepath.Join(s.Root.Path, "etc", "link")) })
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/etc", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup", "size=1m", "nosuid"}},
		specs.Mount{Destination: "/new/deep/dir", Type: "tmpfs", Source: "tmpfs"},
	)
	s.Root.Readonly = false
	e.write(s)
	r := e.husk("run", e.id)
	if r.code != 0 {
		t.Fatalf("run: %v", r)
	}
	for _, want := range []string{"-rw-r--r--\n", "root:x:0:\n", "passwd\n", "755\n", "etc-writable", "/new/deep/dir\n", "/etc rw,nosuid"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(s.Root.Path, "etc", "new")); err == nil {
		t.Errorf("write into the tmpfs reached the image")
	}
	os.RemoveAll(filepath.Join(s.Root.Path, "new"))
}

// A symlink in the image pointing at the host's /etc (absolute) or a
// ".." escape must land inside the rootfs.
func TestMountDestinationConfinedToRootfs(t *testing.T) {
	e := newEnv(t)
	rootfs := copyRootfs(t)
	os.Symlink("/etc", filepath.Join(rootfs, "evil"))
	os.Symlink("../../../../../../../../etc", filepath.Join(rootfs, "evil2"))
	os.Symlink("/", filepath.Join(rootfs, "toroot"))
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "marker"), []byte("m"), 0o644)
	s := e.spec("sh", "-c", `ls /etc/husk-escape-a /etc/husk-escape-b /etc/husk-escape-c /etc/husk-escape-d`)
	s.Root.Path = rootfs
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/evil/husk-escape-a", Type: "bind", Source: host, Options: []string{"bind"}},
		specs.Mount{Destination: "/evil2/husk-escape-b", Type: "tmpfs", Source: "tmpfs"},
		specs.Mount{Destination: "/../../../etc/husk-escape-c", Type: "tmpfs", Source: "tmpfs"},
		specs.Mount{Destination: "/toroot/etc/husk-escape-d", Type: "tmpfs", Source: "tmpfs"},
	)
	e.write(s)
	r := e.husk("run", e.id)
	for _, n := range []string{"a", "b", "c", "d"} {
		if _, err := os.Lstat("/etc/husk-escape-" + n); err == nil {
			os.RemoveAll("/etc/husk-escape-" + n)
			t.Errorf("mount %s escaped to the host's /etc", n)
		}
		if _, err := os.Stat(filepath.Join(rootfs, "etc", "husk-escape-"+n)); err != nil {
			t.Errorf("mount %s did not land inside the rootfs: %v", n, err)
		}
	}
	if r.code != 0 || !strings.Contains(r.stdout, "marker") {
		t.Fatalf("run: %v", r)
	}
}

// copyRootfs makes a private rootfs (symlinks to the shared busybox) that
// a test may change.
func copyRootfs(t *testing.T) string {
	t.Helper()
	tmpl := rootfsTemplate(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755) // a user namespace's root must reach it
	entries, _ := os.ReadDir(tmpl)
	for _, d := range entries {
		src := filepath.Join(tmpl, d.Name())
		if d.Name() == "bin" || d.Name() == "etc" {
			os.MkdirAll(filepath.Join(dir, d.Name()), 0o755)
			files, _ := os.ReadDir(src)
			for _, f := range files {
				p := filepath.Join(src, f.Name())
				if target, err := os.Readlink(p); err == nil {
					os.Symlink(target, filepath.Join(dir, d.Name(), f.Name()))
				} else if data, err := os.ReadFile(p); err == nil {
					fi, _ := os.Stat(p)
					os.WriteFile(filepath.Join(dir, d.Name(), f.Name()), data, fi.Mode())
				}
			}
			continue
		}
		os.MkdirAll(filepath.Join(dir, d.Name()), 0o755)
	}
	os.Chmod(filepath.Join(dir, "tmp"), 0o1777)
	return dir
}

// Mounting over /proc through a symlink (CVE-2019-16884/19921 style) or
// covering procfs files the runtime relies on is refused.
func TestMountOverProcRefused(t *testing.T) {
	for name, m := range map[string]specs.Mount{
		"symlink-redirect": {Destination: "/proc/cpuinfo", Type: "bind", Source: "/dev/null", Options: []string{"bind"}},
		"procfs-internal":  {Destination: "/proc/self/attr", Type: "tmpfs", Source: "tmpfs"},
		"into-proc":        {Destination: "/procsys/kernel", Type: "tmpfs", Source: "tmpfs"},
		"not-proc-on-proc": {Destination: "/proc", Type: "tmpfs", Source: "tmpfs"},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			rootfs := copyRootfs(t)
			s := e.spec("true")
			s.Root.Path = rootfs
			switch name {
			case "symlink-redirect":
				// /proc is not mounted: /proc/cpuinfo in the image is a symlink
				// to a file the container controls.
				s.Mounts = s.Mounts[1:]
				os.Remove(filepath.Join(rootfs, "proc"))
				os.Symlink("/tmp", filepath.Join(rootfs, "proc"))
				os.WriteFile(filepath.Join(rootfs, "tmp", "cpuinfo"), nil, 0o644)
				s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
			case "into-proc":
				os.Symlink("/proc/sys", filepath.Join(rootfs, "procsys"))
			case "not-proc-on-proc":
				s.Mounts = s.Mounts[1:]
			}
			s.Mounts = append(s.Mounts, m)
			e.write(s)
			e.fails(map[string]string{
				"symlink-redirect": "on /proc/cpuinfo): destination under /proc is not on procfs",
				"procfs-internal":  "on /proc/self/attr): destination is inside /proc",
				"into-proc":        "on /procsys/kernel): destination resolves into procfs",
				"not-proc-on-proc": "on /proc): only procfs may be mounted on /proc",
			}[name], "run", e.id)
			e.assertGone(e.id, 0)
		})
	}
}

func TestIdmappedMount(t *testing.T) {
	e := newEnv(t)
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "f"), nil, 0o644)
	os.Chown(filepath.Join(host, "f"), 1000, 1000)
	// Mount points made beforehand: the container's root cannot write
	// the host-owned rootfs.
	rootfs := copyRootfs(t)
	os.Mkdir(filepath.Join(rootfs, "a"), 0o755)
	os.Mkdir(filepath.Join(rootfs, "b"), 0o755)
	s := e.spec("sh", "-c", `stat -c '%u:%g' /a/f /b/f; `+mountinfoAwk+` | grep -E '^/(a|b) '`)
	s.Root.Path = rootfs
	userNSSpec(s)
	// The container's mapping: on-disk 1000 shows as container 1000.
	// The mount's own mapping: on-disk 1000 -> host 100000+5 -> container 5.
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/a", Type: "bind", Source: host, Options: []string{"bind", "idmap"}},
		specs.Mount{Destination: "/b", Type: "bind", Source: host, Options: []string{"rbind", "ridmap"},
			UIDMappings: []specs.LinuxIDMapping{{ContainerID: 995, HostID: 100000, Size: 10}},
			GIDMappings: []specs.LinuxIDMapping{{ContainerID: 994, HostID: 100000, Size: 10}}},
	)
	e.write(s)
	r := e.husk("run", e.id)
	if r.code != 0 {
		t.Fatalf("run: %v", r)
	}
	if !strings.HasPrefix(r.stdout, "1000:1000\n5:6\n") || !strings.Contains(r.stdout, "idmapped") {
		t.Fatalf("idmapped owners/mountinfo: %v", r)
	}
}

// In a user namespace the host's nosuid/nodev/noexec are locked on a bind
// mount: a remount for "ro" must keep them instead of failing.
func TestBindRemountKeepsLockedFlags(t *testing.T) {
	e := newEnv(t)
	host := t.TempDir()
	os.Chmod(filepath.Dir(host), 0o755)
	if err := unix.Mount("tmpfs", host, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=1m,mode=755"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(host, unix.MNT_DETACH) })
	rootfs := copyRootfs(t)
	os.Mkdir(filepath.Join(rootfs, "m"), 0o755)
	s := e.spec("sh", "-c", mountinfoAwk+` | grep '^/m '`)
	s.Root.Path = rootfs
	userNSSpec(s)
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/m", Type: "bind", Source: host, Options: []string{"bind", "ro"}})
	e.write(s)
	r := e.husk("run", e.id)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "/m ro,nosuid,nodev,noexec") {
		t.Fatalf("run: %v", r)
	}
}
