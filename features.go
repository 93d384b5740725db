package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	selinux "github.com/opencontainers/selinux/go-selinux"
	"github.com/urfave/cli/v3"

	"github.com/huskrt/husk/apparmor"
	"github.com/huskrt/husk/libcontainer/config"
	"github.com/huskrt/husk/libcontainer/hooks"
	"github.com/huskrt/husk/seccomp"
)

func (a *app) featuresCommand() *cli.Command {
	return &cli.Command{
		Name:  "features",
		Usage: "show the enabled features",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 0); err != nil {
				return err
			}
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "    ")
			f := hostFeatures()
			addCheckpointFeature(f, cmd.Root().String("criu"), a.log.Debugf)
			return enc.Encode(f)
		},
	}
}

// hostFeatures is the runtime-spec Features document: what husk
// implements AND this host supports (probed, not hard-coded), so an engine
// can trust a "true".
func hostFeatures() *features.Features {
	t, f := true, false
	b := func(v bool) *bool {
		if v {
			return &t
		}
		return &f
	}
	sc := seccomp.Probe()
	sec := &features.Seccomp{Enabled: b(sc.Enabled)}
	if sc.Enabled {
		sec.Actions, sec.Operators, sec.Archs, sec.KnownFlags, sec.SupportedFlags =
			sc.Actions, sc.Operators, sc.Archs, seccompFlagNames(), sc.Flags
	}
	// The cgroup version is the host's; the systemd driver needs systemd
	// running (cgroups.New refuses it otherwise); rdma is a controller the
	// host may lack.
	v1, v2 := false, false
	var st syscall.Statfs_t
	if syscall.Statfs("/sys/fs/cgroup", &st) == nil {
		v2 = st.Type == 0x63677270 // CGROUP2_SUPER_MAGIC
		v1 = !v2
	}
	_, err := os.Stat("/run/systemd/system")
	systemd := err == nil
	rdma, _ := os.ReadFile("/proc/cgroups")
	ann := map[string]string{
		"io.github.huskrt.husk.version": version,
		"io.github.huskrt.husk.commit":  commit,
	}
	if sc.Enabled {
		ann["io.github.seccomp.libseccomp.version"] = sc.Version
	}
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks: []string{hooks.Prestart, hooks.CreateRuntime, hooks.CreateContainer,
			hooks.StartContainer, hooks.Poststart, hooks.Poststop},
		MountOptions: config.MountOptionNames(),
		Linux: &features.Linux{
			Namespaces:   config.HostNamespaces(),
			Capabilities: config.HostCapabilities(),
			Cgroup:       &features.Cgroup{V1: b(v1), V2: b(v2), Systemd: b(systemd), SystemdUser: b(false), Rdma: b(strings.Contains(string(rdma), "\nrdma\t"))},
			Seccomp:      sec,
			Apparmor:     &features.Apparmor{Enabled: b(apparmor.Enabled())},
			Selinux:      &features.Selinux{Enabled: b(selinux.GetEnabled())},
			IntelRdt:     &features.IntelRdt{Enabled: b(false)},
		},
		Annotations: ann,
	}
}

func seccompFlagNames() []string {
	var out []string
	for _, f := range seccomp.Flags {
		out = append(out, string(f))
	}
	return out
}
