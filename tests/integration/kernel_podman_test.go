package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// podman drives podman (as a user would) with husk as its OCI runtime and
// everything it keeps (storage, its database, husk's state root, the
// configuration) in one temp dir: nothing from /etc/containers or
// /var/lib/containers is read or written.
type podman struct {
	t      *testing.T
	dir    string
	global []string
	env    []string
	ids    []string // containers made, checked for leftovers
}

// podmanAvailable: podman and conmon (the kernel lane copies the host's).
func podmanAvailable() bool {
	if _, err := exec.LookPath("podman"); err != nil {
		return false
	}
	for _, p := range []string{"/usr/bin/conmon", "/usr/libexec/podman/conmon", "/usr/local/bin/conmon"} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

func newPodman(t *testing.T) *podman {
	t.Helper()
	// Not t.TempDir(): podman refuses a runroot longer than 50 characters
	// (its sockets live there).
	dir, err := os.MkdirTemp("", "husk-pm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &podman{t: t, dir: dir}
	files := map[string]string{
		// k8s-file logs (no journald), cgroupfs (no systemd), the event
		// log in a file, image copies in our dir (not /var/tmp, which the
		// kernel lane lacks), the CNI backend with no plugins: `--network none`
		// never calls one, and netavark is not needed.
		"containers.conf": fmt.Sprintf(`[containers]
log_driver = "k8s-file"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
image_copy_tmp_dir = %q
[network]
network_backend = "cni"
network_config_dir = %q
`, filepath.Join(dir, "tmp"), filepath.Join(dir, "net")),
		"storage.conf": fmt.Sprintf("[storage]\ndriver = \"vfs\"\nrunroot = %q\ngraphroot = %q\n",
			filepath.Join(dir, "runroot"), filepath.Join(dir, "root")),
		"registries.conf": "unqualified-search-registries = []\n",
		// `podman import` checks the (local) image against a signature
		// policy: $HOME's is read before /etc/containers'.
		"home/.config/containers/policy.json": `{"default":[{"type":"insecureAcceptAnything"}]}` + "\n",
	}
	for name, data := range files {
		path := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(dir, "net"), 0o755)
	os.MkdirAll(filepath.Join(dir, "tmp"), 0o755)
	p.env = append(os.Environ(),
		"HOME="+filepath.Join(dir, "home"),
		// podman sets TMPDIR=/var/tmp when it is unset.
		"TMPDIR="+filepath.Join(dir, "tmp"),
		"CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf"),
		"CONTAINERS_REGISTRIES_CONF="+filepath.Join(dir, "registries.conf"))
	p.global = []string{
		"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "runroot"),
		"--tmpdir", filepath.Join(dir, "libpod"),
		// husk's default --root (/run/husk): podman's exit command
		// (`podman container cleanup`, which deletes the container when it
		// stops) does not pass --runtime-flag on.
		"--runtime", huskBin,
		"--cgroup-manager", "cgroupfs", "--events-backend", "file",
	}
	t.Cleanup(p.cleanup)
	return p
}

// run runs podman with the test's configuration, 120 s at most (TCG is
// slow and podman is big).
func (p *podman) run(args ...string) result {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "podman", append(append([]string{}, p.global...), args...)...)
	cmd.Env = p.env
	cmd.Dir = p.dir
	// Files, not pipes: conmon (detached) inherits nothing of ours then.
	outF, err := os.CreateTemp(p.dir, "out")
	if err != nil {
		p.t.Fatal(err)
	}
	errF, _ := os.CreateTemp(p.dir, "err")
	defer os.Remove(outF.Name())
	defer os.Remove(errF.Name())
	defer outF.Close()
	defer errF.Close()
	cmd.Stdout, cmd.Stderr = outF, errF
	err = cmd.Run()
	out, _ := os.ReadFile(outF.Name())
	errb, _ := os.ReadFile(errF.Name())
	r := result{string(out), string(errb), 0}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		p.t.Fatalf("podman %v: timed out after 120s: %v", args, r)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		p.t.Fatal(err)
	}
	return r
}

func (p *podman) must(args ...string) string {
	p.t.Helper()
	r := p.run(args...)
	if r.code != 0 {
		p.t.Fatalf("podman %v: %v", args, r)
	}
	return strings.TrimSpace(r.stdout)
}

// importBusybox makes image "localhost/husk-bb" from the shared busybox
// rootfs, offline (`podman import` of a tarball).
func (p *podman) importBusybox() string {
	p.t.Helper()
	tarball := filepath.Join(p.dir, "busybox.tar")
	if out, err := exec.Command("tar", "-C", rootfsTemplate(p.t), "-cf", tarball, ".").CombinedOutput(); err != nil {
		p.t.Fatalf("tar of the busybox rootfs: %v: %s", err, out)
	}
	const image = "localhost/husk-bb:latest"
	p.must("import", "--quiet", tarball, image)
	return image
}

// logCount reads `podman logs` of a counting container: the numbers it
// printed, which must be 1, 2, 3... without a gap or a restart; it
// returns the last one.
func (p *podman) logCount(id string) int {
	p.t.Helper()
	out := p.must("logs", id)
	want := 1
	for _, l := range strings.Fields(out) {
		n, err := strconv.Atoi(l)
		if err != nil || n != want {
			p.t.Fatalf("podman logs %s: %q where %d was due (restarted, or output lost?):\n%s", id, l, want, out)
		}
		want++
	}
	return want - 1
}

// waitCount waits until the container has printed n.
func (p *podman) waitCount(id string, n int) int {
	p.t.Helper()
	return waitAtLeast(p.t, "container "+id+": count", n, 300, 200*time.Millisecond, func() int { return p.logCount(id) })
}

// status is what `podman inspect` says: state, running, checkpointed.
func (p *podman) status(id string) string {
	p.t.Helper()
	return p.must("inspect", "--format", "{{.State.Status}} {{.State.Running}} {{.State.Checkpointed}}", id)
}

// cleanup removes every container and image, then checks that nothing of
// podman's is left: no mount under the temp dir, no husk state entry of
// the containers it made.
func (p *podman) cleanup() {
	for _, args := range [][]string{{"rm", "--all", "--force", "--time", "0"}, {"rmi", "--all", "--force"}} {
		if r := p.run(args...); r.code != 0 {
			p.t.Errorf("cleanup: podman %v: %v", args, r)
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], p.dir) {
			p.t.Errorf("mount left behind: %s", l)
		}
	}
	for _, id := range p.ids {
		if st := p.huskState(id); st != "" {
			p.t.Errorf("container %s left in husk's state (%s)", id, st)
		}
	}
}

// huskState is husk's own view of id: its status, or "" when it has no
// state entry.
func (p *podman) huskState(id string) string {
	p.t.Helper()
	out, err := exec.Command(huskBin, "state", id).Output()
	if err != nil {
		return ""
	}
	var s stateJSON
	if err := json.Unmarshal(out, &s); err != nil {
		p.t.Fatalf("husk state %s: %v: %s", id, err, out)
	}
	return s.Status
}

const podmanCounter = `i=0; while :; do i=$((i+1)); echo $i; sleep 0.2; done`

// podman checkpoints and restores a container with husk as the runtime,
// in place and through an exported tarball: the counter it prints goes on
// from where it stopped (its log, 1, 2, 3... without a restart or a gap).
func TestKernelPodmanCheckpoint(t *testing.T) {
	needKernel(t, criuWorks() && podmanAvailable(), "a working CRIU (`criu check`) and podman with conmon")
	p := newPodman(t)
	image := p.importBusybox()
	id := p.must("run", "-d", "--name", "counter", "--network", "none", "--log-driver", "k8s-file", image, "sh", "-c", podmanCounter)
	p.ids = append(p.ids, id)
	if st := p.status(id); st != "running true false" {
		t.Fatalf("after podman run: %q", st)
	}
	p.waitCount(id, 3)

	// In place: checkpoint stops it (husk deletes it), restore brings it back.
	p.must("container", "checkpoint", id)
	if st := p.status(id); st != "exited false true" {
		t.Fatalf("after podman container checkpoint: %q, want exited and checkpointed", st)
	}
	if st := p.huskState(id); st != "" {
		t.Fatalf("checkpointed container still in husk's state: %s", st)
	}
	c := p.logCount(id)
	p.must("container", "restore", id)
	if st := p.status(id); !strings.HasPrefix(st, "running true") {
		t.Fatalf("after podman container restore: %q", st)
	}
	if st := p.huskState(id); st != "running" {
		t.Fatalf("restored container: husk state %q, want running", st)
	}
	p.waitCount(id, c+3)

	// Exported: the tarball restores after the container is gone.
	tarball := filepath.Join(p.dir, "counter-checkpoint.tar.gz")
	p.must("container", "checkpoint", "--export", tarball, id)
	c = p.logCount(id)
	p.must("rm", id)
	if st := p.huskState(id); st != "" {
		t.Fatalf("removed container still in husk's state: %s", st)
	}
	p.must("container", "restore", "--import", tarball)
	if st := p.status(id); !strings.HasPrefix(st, "running true") {
		t.Fatalf("after podman container restore --import: %q", st)
	}
	// The log went into the tarball too: still 1, 2, 3... on from c.
	p.waitCount(id, c+3)
	p.must("rm", "--force", "--time", "0", id)
	if st := p.huskState(id); st != "" {
		t.Fatalf("removed container still in husk's state: %s", st)
	}
	assertNoCgroup(t, id)
}
