package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hookEnv is a bundle whose hooks each append one line to a log:
// "<name> status=<s> pid=<p> root=<pivoted|host> mnt=<host|container>
// exe=<name of /proc/<pid>/exe> env=<HOOKVAR>". Runtime-side hooks run
// the host's /bin/sh on a script in the bundle; the startContainer hook
// runs the container's busybox and writes through a bind mount at /out.
type hookEnv struct {
	*env
	log  string // host path of the log
	out  string // host dir bind-mounted at /out
	hook func(name string) specs.Hook
}

const hookScript = `#!/bin/sh
# $1 name, $2 log, $3 rootfs, $4 host mount ns
st=$(cat)
status=$(echo "$st" | grep -o '"status":"[a-z]*"' | cut -d'"' -f4)
pid=$(echo "$st" | grep -o '"pid":[0-9]*' | cut -d: -f2)
root=host; [ -n "$pid" ] && [ /proc/$pid/root/ -ef "$3" ] && root=pivoted
mnt=container; [ "$(readlink /proc/self/ns/mnt)" = "$4" ] && mnt=host
exe=; [ -n "$pid" ] && exe=$(basename "$(readlink /proc/$pid/exe)")
echo "$1 status=$status pid=${pid:-0} root=$root mnt=$mnt exe=$exe env=$HOOKVAR" >> "$2"
`

func newHookEnv(t *testing.T) *hookEnv {
	e := newEnv(t)
	h := &hookEnv{env: e, log: filepath.Join(e.bundle, "hooks.log"), out: filepath.Join(e.bundle, "out")}
	os.MkdirAll(h.out, 0o755)
	script := filepath.Join(e.bundle, "hook.sh")
	if err := os.WriteFile(script, []byte(hookScript), 0o755); err != nil {
		t.Fatal(err)
	}
	hostMnt, _ := os.Readlink("/proc/self/ns/mnt")
	rootfs := rootfsTemplate(t)
	h.hook = func(name string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", script, name, h.log, rootfs, hostMnt},
			Env: []string{"HOOKVAR=" + name}}
	}
	return h
}

// spec adds the /out bind mount and a full set of logging hooks.
func (h *hookEnv) specWithHooks(args ...string) *specs.Spec {
	s := h.spec(args...)
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/out", Type: "bind", Source: h.out, Options: []string{"rbind", "rw"}})
	hostMnt, _ := os.Readlink("/proc/self/ns/mnt")
	s.Hooks = &specs.Hooks{
		Prestart:        []specs.Hook{h.hook("prestart")},
		CreateRuntime:   []specs.Hook{h.hook("createRuntime")},
		CreateContainer: []specs.Hook{h.hook("createContainer")},
		// In the container: its own busybox, its own mount namespace,
		// after pivot_root (/out exists only there).
		StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c",
			`st=$(cat); mnt=container; [ "$(readlink /proc/self/ns/mnt)" = "` + hostMnt + `" ] && mnt=host; ` +
				`root=host; [ -d /out ] && root=pivoted; ` +
				`echo "startContainer status=$(echo "$st" | grep -o '"status":"[a-z]*"' | cut -d'"' -f4) root=$root mnt=$mnt uid=$(id -u)" >> /out/start.log`}}},
		Poststart: []specs.Hook{h.hook("poststart")},
		Poststop:  []specs.Hook{h.hook("poststop")},
	}
	return s
}

func (h *hookEnv) lines() []string {
	data, _ := os.ReadFile(h.log)
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

func (h *hookEnv) expectLines(want ...string) {
	h.t.Helper()
	got := h.lines()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		h.t.Fatalf("hook log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestHooksOrderAndState: every kind of hook runs at its point of the
// lifecycle, in the right namespace, with the state the spec asks for.
func TestHooksOrderAndState(t *testing.T) {
	h := newHookEnv(t)
	s := h.specWithHooks("sleep", "100")
	s.Annotations = map[string]string{"org.example.k": "v"}
	h.write(s)
	h.must("create", h.id)
	pid := h.state(h.id).Pid
	p := strconv.Itoa(pid)
	// Before the root switch: the init's root is still the host's.
	h.expectLines(
		"prestart status=created pid="+p+" root=host mnt=host exe=husk env=prestart",
		"createRuntime status=created pid="+p+" root=host mnt=host exe=husk env=createRuntime",
		"createContainer status=created pid="+p+" root=host mnt=container exe=husk env=createContainer",
	)
	if _, err := os.Stat(filepath.Join(h.out, "start.log")); err == nil {
		t.Fatal("startContainer hook ran during create")
	}
	h.must("start", h.id)
	// poststart runs after the exec: /proc/<pid>/exe is the user's program.
	h.expectLines(
		"prestart status=created pid="+p+" root=host mnt=host exe=husk env=prestart",
		"createRuntime status=created pid="+p+" root=host mnt=host exe=husk env=createRuntime",
		"createContainer status=created pid="+p+" root=host mnt=container exe=husk env=createContainer",
		"poststart status=running pid="+p+" root=pivoted mnt=host exe=busybox env=poststart",
	)
	data, _ := os.ReadFile(filepath.Join(h.out, "start.log"))
	if got := strings.TrimSpace(string(data)); got != "startContainer status=created root=pivoted mnt=container uid=0" {
		t.Fatalf("startContainer log %q", got)
	}
	h.must("kill", h.id, "KILL")
	h.waitStatus(h.id, "stopped")
	h.must("delete", h.id)
	h.assertGone(h.id, pid)
	got := h.lines()
	if last := got[len(got)-1]; last != "poststop status=stopped pid=0 root=host mnt=host exe= env=poststop" {
		t.Fatalf("poststop line %q", last)
	}
}

// TestHooksStdinState: a hook reads exactly the runtime-spec State,
// annotations included, on stdin.
func TestHooksStdinState(t *testing.T) {
	e := newEnv(t)
	s := e.spec("true")
	s.Annotations = map[string]string{"org.example.a": "1", "b": "two words"}
	dump := filepath.Join(e.bundle, "state.json")
	s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + dump}}}}
	e.write(s)
	e.must("create", e.id)
	pid := e.state(e.id).Pid
	data, _ := os.ReadFile(dump)
	want := fmt.Sprintf(`{"ociVersion":"%s","id":"%s","status":"created","pid":%d,"bundle":"%s","annotations":{"b":"two words","org.example.a":"1"}}`,
		s.Version, e.id, pid, e.bundle)
	if string(data) != want {
		t.Fatalf("hook stdin\n%s\nwant\n%s", data, want)
	}
	e.must("delete", "--force", e.id)
	e.assertGone(e.id, pid)
}

// TestHooksRunForeground: `run` runs every kind of hook, poststop after
// the container is gone.
func TestHooksRunForeground(t *testing.T) {
	h := newHookEnv(t)
	h.write(h.specWithHooks("true"))
	h.must("run", h.id)
	got := h.lines()
	var names []string
	for _, l := range got {
		names = append(names, strings.Fields(l)[0])
	}
	if strings.Join(names, " ") != "prestart createRuntime createContainer poststart poststop" {
		t.Fatalf("hooks ran: %v\n%s", names, strings.Join(got, "\n"))
	}
	if data, _ := os.ReadFile(filepath.Join(h.out, "start.log")); !strings.HasPrefix(string(data), "startContainer status=created") {
		t.Fatalf("startContainer log %q", data)
	}
	h.assertGone(h.id, 0)
}

func failing(msg string) specs.Hook {
	return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo first line " + msg + " >&2; echo second >&2; exit 3"}}
}

// TestHookFailureAtCreate: a failing prestart, createRuntime or
// createContainer hook fails create with an error naming the hook,
// destroys the container (nothing left) and still runs poststop.
func TestHookFailureAtCreate(t *testing.T) {
	for _, kind := range []string{"prestart", "createRuntime", "createContainer"} {
		t.Run(kind, func(t *testing.T) {
			h := newHookEnv(t)
			s := h.spec("true")
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{h.hook("poststop")}}
			bad := []specs.Hook{h.hook(kind), failing(kind)}
			switch kind {
			case "prestart":
				s.Hooks.Prestart = bad
			case "createRuntime":
				s.Hooks.CreateRuntime = bad
			case "createContainer":
				s.Hooks.CreateContainer = bad
			}
			h.write(s)
			h.fails(fmt.Sprintf("hooks.%s[1] (/bin/sh): exit status 3: first line %s", kind, kind), "create", h.id)
			h.assertGone(h.id, 0)
			got := h.lines()
			if len(got) != 2 || !strings.HasPrefix(got[0], kind+" ") || !strings.HasPrefix(got[1], "poststop status=stopped") {
				t.Fatalf("hook log %q", got)
			}
			if out := h.must("list", "-q"); out != "" {
				t.Fatalf("list after failed create: %q", out)
			}
		})
	}
}

// TestHookTimeout: a hook that outlives its timeout is killed and fails
// create with an error naming it.
func TestHookTimeout(t *testing.T) {
	e := newEnv(t)
	s := e.spec("true")
	one := 1
	s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "60"}, Timeout: &one}}}
	e.write(s)
	e.fails("hooks.createRuntime[0] (/bin/sleep): timed out after 1s (killed)", "create", e.id)
	e.assertGone(e.id, 0)
}

// TestStartContainerHookFailure: start fails with the hook's error, the
// container is stopped, and delete removes it and runs poststop.
func TestStartContainerHookFailure(t *testing.T) {
	h := newHookEnv(t)
	s := h.spec("sleep", "100")
	s.Hooks = &specs.Hooks{
		StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo nope >&2; exit 5"}}},
		Poststart:      []specs.Hook{h.hook("poststart")},
		Poststop:       []specs.Hook{h.hook("poststop")},
	}
	h.write(s)
	h.must("create", h.id)
	pid := h.state(h.id).Pid
	h.fails("hooks.startContainer[0] (/bin/sh): exit status 5: nope", "start", h.id)
	h.waitStatus(h.id, "stopped")
	h.must("delete", h.id)
	h.assertGone(h.id, pid)
	h.expectLines("poststop status=stopped pid=0 root=host mnt=host exe= env=poststop")
}

// TestPoststartHookFailure: runtime-spec 1.2+ makes a failing poststart
// hook an error that stops the container (it used to be a warning).
func TestPoststartHookFailure(t *testing.T) {
	h := newHookEnv(t)
	s := h.spec("sleep", "100")
	s.Hooks = &specs.Hooks{Poststart: []specs.Hook{failing("poststart"), h.hook("poststart")}}
	h.write(s)
	h.must("create", h.id)
	pid := h.state(h.id).Pid
	h.fails("hooks.poststart[0] (/bin/sh): exit status 3: first line poststart", "start", h.id)
	if st := h.state(h.id); st.Status != "stopped" {
		t.Fatalf("status after failed poststart: %s", st.Status)
	}
	if _, err := os.Stat(h.log); err == nil {
		t.Fatalf("poststart hook after the failing one ran: %q", h.lines())
	}
	h.must("delete", h.id)
	h.assertGone(h.id, pid)
}

// TestPoststopHookFailure: a failing poststop hook is a warning; the
// others still run and delete succeeds.
func TestPoststopHookFailure(t *testing.T) {
	h := newHookEnv(t)
	s := h.spec("true")
	s.Hooks = &specs.Hooks{Poststop: []specs.Hook{failing("poststop"), h.hook("poststop")}}
	h.write(s)
	h.must("create", h.id)
	r := h.husk("delete", "--force", h.id)
	if r.code != 0 || !strings.Contains(r.stderr, "warning: hooks.poststop[0] (/bin/sh): exit status 3: first line poststop") {
		t.Fatalf("delete: %v", r)
	}
	h.expectLines("poststop status=stopped pid=0 root=host mnt=host exe= env=poststop")
	h.assertGone(h.id, 0)
}

// TestHooksFromCreateTime: hooks are those of config.json at create; a
// later edit changes nothing.
func TestHooksFromCreateTime(t *testing.T) {
	h := newHookEnv(t)
	s := h.spec("true")
	s.Hooks = &specs.Hooks{Poststop: []specs.Hook{h.hook("poststop")}}
	h.write(s)
	h.must("create", h.id)
	s.Hooks = &specs.Hooks{Poststop: []specs.Hook{h.hook("edited")}}
	h.write(s)
	h.must("delete", "--force", h.id)
	h.expectLines("poststop status=stopped pid=0 root=host mnt=host exe= env=poststop")
}

// TestStateKeepsAnnotations: `state` prints the config's annotations.
func TestStateKeepsAnnotations(t *testing.T) {
	e := newEnv(t)
	s := e.spec("sleep", "100")
	s.Annotations = map[string]string{"org.example.x": "1", "io.y": "a=b c"}
	e.write(s)
	e.must("create", e.id)
	st := e.state(e.id)
	if len(st.Annotations) != 2 || st.Annotations["org.example.x"] != "1" || st.Annotations["io.y"] != "a=b c" {
		t.Fatalf("annotations in state: %v", st.Annotations)
	}
	e.must("delete", "--force", e.id)
	e.assertGone(e.id, st.Pid)
}
