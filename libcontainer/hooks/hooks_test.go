package hooks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestArgv0EnvStdin(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	// busybox dispatches on argv[0]: args[0] must reach the program as is.
	bb := "/bin/busybox"
	if _, err := os.Stat(bb); err != nil {
		t.Fatalf("needs busybox-static (make deps): %v", err)
	}
	err := Run(Poststop, []specs.Hook{
		{Path: bb, Args: []string{"sh", "-c", `echo "$V" > ` + out + `; cat >> ` + out}, Env: []string{"V=from-env"}},
	}, []byte(`{"id":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(out)
	if string(data) != "from-env\n{\"id\":\"x\"}" {
		t.Fatalf("hook saw %q", data)
	}
}

func TestErrorNamesHookAndStopsAtFirst(t *testing.T) {
	mark := filepath.Join(t.TempDir(), "mark")
	err := Run(Prestart, []specs.Hook{
		{Path: "/bin/true"},
		{Path: "/bin/sh", Args: []string{"sh", "-c", "echo; echo '  bad thing ' >&2; echo more >&2; exit 2"}},
		{Path: "/bin/sh", Args: []string{"sh", "-c", "touch " + mark}},
	}, nil)
	if err == nil || err.Error() != "hooks.prestart[1] (/bin/sh): exit status 2: bad thing" {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(mark); err == nil {
		t.Fatal("the hook after the failing one ran")
	}
	err = Run(CreateRuntime, []specs.Hook{{Path: "/nonexistent/hook"}}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "hooks.createRuntime[0] (/nonexistent/hook): ") {
		t.Fatalf("err = %v", err)
	}
}

func TestRunAllWarnsAndGoesOn(t *testing.T) {
	mark := filepath.Join(t.TempDir(), "mark")
	var warns []string
	RunAll(Poststop, []specs.Hook{
		{Path: "/bin/false"},
		{Path: "/bin/sh", Args: []string{"sh", "-c", "touch " + mark}},
	}, nil, func(err error) { warns = append(warns, err.Error()) })
	if len(warns) != 1 || warns[0] != "hooks.poststop[0] (/bin/false): exit status 1" {
		t.Fatalf("warnings %q", warns)
	}
	if _, err := os.Stat(mark); err != nil {
		t.Fatal("the hook after the failing one did not run")
	}
}

func TestTimeoutKills(t *testing.T) {
	one := 1
	// The hook leaves a child holding its output open: Run must not wait
	// for it.
	err := Run(Poststart, []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "sleep 31 & sleep 31"}, Timeout: &one}}, nil)
	if err == nil || err.Error() != "hooks.poststart[0] (/bin/sh): timed out after 1s (killed)" {
		t.Fatalf("err = %v", err)
	}
}
