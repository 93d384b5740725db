package integration

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var allNamespaces = []specs.LinuxNamespaceType{
	specs.PIDNamespace, specs.NetworkNamespace, specs.MountNamespace, specs.IPCNamespace,
	specs.UTSNamespace, specs.UserNamespace, specs.CgroupNamespace, specs.TimeNamespace,
}

// procNSName is the /proc/<pid>/ns entry of each type.
var procNSName = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.NetworkNamespace: "net", specs.MountNamespace: "mnt",
	specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.UserNamespace: "user",
	specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
}

func hostNS(t *testing.T, typ specs.LinuxNamespaceType) string {
	t.Helper()
	l, err := os.Readlink("/proc/self/ns/" + procNSName[typ])
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// nsLinks makes the container print its namespace links, one per line,
// and reads them back.
func nsLinks(t *testing.T, e *env, s *specs.Spec) map[specs.LinuxNamespaceType]string {
	t.Helper()
	var script strings.Builder
	for _, typ := range allNamespaces {
		fmt.Fprintf(&script, "echo %s $(readlink /proc/self/ns/%s);", typ, procNSName[typ])
	}
	s.Process.Args = []string{"sh", "-c", script.String()}
	e.write(s)
	r := e.husk("run", e.id)
	if r.code != 0 {
		t.Fatalf("run: %v", r)
	}
	out := map[specs.LinuxNamespaceType]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			out[specs.LinuxNamespaceType(f[0])] = f[1]
		}
	}
	return out
}

func userNSSpec(s *specs.Spec) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	// The rootless-style /sys: sysfs cannot be mounted in a user
	// namespace that does not own the network namespace... it does here,
	// but cgroup v1 hierarchies can not be mounted without a cgroupns.
	var mounts []specs.Mount
	for _, m := range s.Mounts {
		if m.Type != "cgroup" {
			mounts = append(mounts, m)
		}
	}
	s.Mounts = mounts
}

func TestNamespacesNewOfEveryType(t *testing.T) {
	e := newEnv(t)
	s := e.spec()
	userNSSpec(s)
	s.Linux.Namespaces = append(s.Linux.Namespaces,
		specs.LinuxNamespace{Type: specs.CgroupNamespace}, specs.LinuxNamespace{Type: specs.TimeNamespace})
	got := nsLinks(t, e, s)
	for _, typ := range allNamespaces {
		if got[typ] == "" || got[typ] == hostNS(t, typ) {
			t.Errorf("namespace %s: container has %q, host has %q: want a new one", typ, got[typ], hostNS(t, typ))
		}
	}
}

func TestNamespacesInheritedWhenNotListed(t *testing.T) {
	e := newEnv(t)
	s := e.spec()
	// Keep only the mount namespace: everything else is the host's.
	s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	s.Hostname = ""
	got := nsLinks(t, e, s)
	for _, typ := range allNamespaces {
		want := hostNS(t, typ)
		if typ == specs.MountNamespace {
			if got[typ] == want {
				t.Errorf("mount namespace is the host's")
			}
			continue
		}
		if got[typ] != want {
			t.Errorf("namespace %s: container has %q, want the host's %q", typ, got[typ], want)
		}
	}
}

func TestNamespacesJoinedByPath(t *testing.T) {
	// A holder process with its own namespaces, as `ip netns` or another
	// container would provide.
	holder := exec.Command("unshare", "--net", "--uts", "--ipc", "sleep", "60")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	var want map[string]string
	for i := 0; i < 100; i++ {
		want = map[string]string{}
		for _, n := range []string{"net", "uts", "ipc"} {
			want[n], _ = os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", holder.Process.Pid, n))
		}
		if h, _ := os.Readlink("/proc/self/ns/net"); want["net"] != h {
			break
		}
		time.Sleep(10 * time.Millisecond) // unshare has not run yet
	}
	e := newEnv(t)
	s := e.spec()
	s.Hostname = ""
	s.Linux.Namespaces = []specs.LinuxNamespace{
		{Type: specs.PIDNamespace}, {Type: specs.MountNamespace},
		{Type: specs.NetworkNamespace, Path: fmt.Sprintf("/proc/%d/ns/net", holder.Process.Pid)},
		{Type: specs.UTSNamespace, Path: fmt.Sprintf("/proc/%d/ns/uts", holder.Process.Pid)},
		{Type: specs.IPCNamespace, Path: fmt.Sprintf("/proc/%d/ns/ipc", holder.Process.Pid)},
	}
	got := nsLinks(t, e, s)
	if got[specs.NetworkNamespace] != want["net"] || got[specs.UTSNamespace] != want["uts"] || got[specs.IPCNamespace] != want["ipc"] {
		t.Fatalf("joined namespaces: got %v, want %v", got, want)
	}

	// A path of the wrong type is refused, naming the namespace.
	e2 := newEnv(t)
	s2 := e2.spec("true")
	s2.Hostname = ""
	s2.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace},
		{Type: specs.NetworkNamespace, Path: fmt.Sprintf("/proc/%d/ns/uts", holder.Process.Pid)}}
	e2.write(s2)
	e2.fails("join network namespace", "run", e2.id)
	e2.assertGone(e2.id, 0)
	// A missing path likewise.
	s2.Linux.Namespaces[1].Path = "/proc/999999999/ns/net"
	e2.write(s2)
	e2.fails("/proc/999999999/ns/net", "run", e2.id)
	e2.assertGone(e2.id, 0)
}

func TestUserNamespaceMappings(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g")
	userNSSpec(s)
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 1000}, {ContainerID: 1000, HostID: 300000, Size: 10}}
	e.write(s)
	r := e.husk("run", e.id)
	if r.code != 0 {
		t.Fatalf("run: %v", r)
	}
	f := strings.Fields(r.stdout)
	want := []string{"0", "200000", "1000", "1000", "300000", "10", "0", "100000", "65536", "0", "0"}
	if strings.Join(f, " ") != strings.Join(want, " ") {
		t.Fatalf("maps and ids: %q, want %q", f, want)
	}
	// From the host, the container's process runs as the mapped uid.
	e2 := newEnv(t)
	s2 := e2.spec("sleep", "60")
	userNSSpec(s2)
	e2.write(s2)
	e2.must("run", "-d", e2.id)
	st := e2.state(e2.id)
	status, _ := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/status")
	if !strings.Contains(string(status), "Uid:\t100000\t100000\t100000\t100000") {
		t.Fatalf("host view of the container's uid: %s", status)
	}
	e2.must("delete", "--force", e2.id)
}

func TestTimeNamespaceOffsets(t *testing.T) {
	e := newEnv(t)
	s := e.spec("cat", "/proc/uptime")
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
	s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 86400 * 365}}
	e.write(s)
	r := e.husk("run", e.id)
	if r.code != 0 {
		t.Fatalf("run: %v", r)
	}
	up, _ := strconv.ParseFloat(strings.Fields(r.stdout)[0], 64)
	host, _ := os.ReadFile("/proc/uptime")
	hostUp, _ := strconv.ParseFloat(strings.Fields(string(host))[0], 64)
	if d := up - hostUp; d < 86400*365-60 || d > 86400*365+60 {
		t.Fatalf("uptime in the container %.0f, host %.0f: want one year ahead", up, hostUp)
	}
}

func TestCgroupNamespaceShowsRoot(t *testing.T) {
	e := newEnv(t)
	s := e.spec("cat", "/proc/self/cgroup")
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	e.write(s)
	r := e.husk("run", e.id)
	if r.code != 0 {
		t.Fatalf("run: %v", r)
	}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if !strings.HasSuffix(line, ":/") {
			t.Fatalf("cgroup namespace: %q, want every path to be /", r.stdout)
		}
	}
}

// A new network namespace has its loopback up, as with runc: engines run
// containers with no network that still use 127.0.0.1.
func TestNewNetworkNamespaceHasLoopbackUp(t *testing.T) {
	e := newEnv(t)
	e.write(e.spec("cat", "/sys/class/net/lo/flags"))
	// IFF_UP (0x1) | IFF_LOOPBACK (0x8); a loopback left down reads 0x8.
	if out := strings.TrimSpace(e.must("run", e.id)); out != "0x9" {
		t.Fatalf("lo flags %q, want 0x9 (up)", out)
	}
}

// A mount or uts namespace joined by path is the container's to set up,
// as with runc: the rootfs is mounted and the hostname set in it.
func TestJoinedMountAndUTSNamespacesAreSetUp(t *testing.T) {
	holder := exec.Command("unshare", "--mount", "--uts", "sleep", "60")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	pid := holder.Process.Pid
	self, _ := os.Readlink("/proc/self/ns/uts")
	for i := 0; i < 100; i++ {
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/uts", pid)); l != self {
			break
		}
		time.Sleep(10 * time.Millisecond) // unshare has not run yet
	}
	e := newEnv(t)
	s := e.spec("sh", "-c", "hostname; stat -c %i /bin/busybox")
	s.Hostname = "joined"
	s.Linux.Namespaces = []specs.LinuxNamespace{
		{Type: specs.PIDNamespace},
		{Type: specs.MountNamespace, Path: fmt.Sprintf("/proc/%d/ns/mnt", pid)},
		{Type: specs.UTSNamespace, Path: fmt.Sprintf("/proc/%d/ns/uts", pid)},
	}
	e.write(s)
	var st syscall.Stat_t
	if err := syscall.Stat(s.Root.Path+"/bin/busybox", &st); err != nil {
		t.Fatal(err)
	}
	out := strings.Fields(e.must("run", e.id))
	if len(out) != 2 || out[0] != "joined" || out[1] != strconv.FormatUint(st.Ino, 10) {
		t.Fatalf("in the joined namespaces: %q, want hostname joined and the rootfs's busybox (inode %d)", out, st.Ino)
	}
	// The hostname went to the joined namespace, not a new one.
	got, err := exec.Command("nsenter", "-t", strconv.Itoa(pid), "-u", "hostname").Output()
	if err != nil || strings.TrimSpace(string(got)) != "joined" {
		t.Fatalf("holder's hostname %q (%v), want joined", got, err)
	}
	e.assertGone(e.id, 0)
}
