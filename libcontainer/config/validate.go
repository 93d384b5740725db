package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/huskrt/husk/seccomp"
)

// Validate checks the invariants the rest of husk relies on, before any
// state, process or mount exists, so a bad config leaves nothing behind.
// Each error names the field (as a JSON path) and what is wrong with it.
func Validate(c *Config) error {
	for _, check := range []func(*Config) error{
		validateVersion, validateRoot, validateProcess, validateNamespaces,
		validateMounts, validateDevices, validateHooks,
		validateSysctl, validateProcessAttrs, validateMountExtras, validateSeccomp,
	} {
		if err := check(c); err != nil {
			return err
		}
	}
	return nil
}

func validateVersion(c *Config) error {
	v := c.Spec.Version
	if v == "" {
		return nil // runc accepts a config without ociVersion; so do we
	}
	major, _, _ := strings.Cut(v, ".")
	if major != "1" {
		return fmt.Errorf("ociVersion: unsupported version %q (husk implements runtime-spec 1.x)", v)
	}
	return nil
}

func validateRoot(c *Config) error {
	if c.Spec.Root == nil || c.Spec.Root.Path == "" {
		return errors.New("root.path: must be set")
	}
	fi, err := os.Stat(c.Rootfs)
	if err != nil {
		return fmt.Errorf("root.path: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("root.path: %s is not a directory", c.Rootfs)
	}
	return nil
}

func validateProcess(c *Config) error {
	p := c.Spec.Process
	if p == nil {
		return errors.New("process: must be set")
	}
	if len(p.Args) == 0 || p.Args[0] == "" {
		return errors.New("process.args: must not be empty")
	}
	if p.Cwd == "" || !filepath.IsAbs(p.Cwd) {
		return fmt.Errorf("process.cwd: %q is not an absolute path", p.Cwd)
	}
	if caps := p.Capabilities; caps != nil {
		for _, set := range []struct {
			name  string
			names []string
		}{
			{"bounding", caps.Bounding}, {"effective", caps.Effective},
			{"permitted", caps.Permitted}, {"inheritable", caps.Inheritable},
			{"ambient", caps.Ambient},
		} {
			for i, n := range set.names {
				if _, ok := CapabilityValue(n); !ok {
					return fmt.Errorf("process.capabilities.%s[%d]: unknown capability %q", set.name, i, n)
				}
			}
		}
	}
	seen := map[string]bool{}
	for i, rl := range p.Rlimits {
		field := "process.rlimits[" + strconv.Itoa(i) + "]"
		if _, ok := RlimitType(rl.Type); !ok {
			return fmt.Errorf("%s.type: unknown rlimit %q", field, rl.Type)
		}
		if seen[rl.Type] {
			return fmt.Errorf("%s.type: %s is set twice", field, rl.Type)
		}
		seen[rl.Type] = true
		if rl.Soft > rl.Hard {
			return fmt.Errorf("%s: soft limit %d is above hard limit %d", field, rl.Soft, rl.Hard)
		}
	}
	if p.OOMScoreAdj != nil && (*p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000) {
		return fmt.Errorf("process.oomScoreAdj: %d is outside -1000..1000", *p.OOMScoreAdj)
	}
	for i, e := range p.Env {
		if !strings.Contains(e, "=") {
			return fmt.Errorf("process.env[%d]: %q is not KEY=value", i, e)
		}
	}
	return nil
}

// Namespace returns the config's entry for namespace type t, if it has
// one (Validate refuses a type listed twice).
func Namespace(s *specs.Spec, t specs.LinuxNamespaceType) (specs.LinuxNamespace, bool) {
	if s.Linux != nil {
		for _, ns := range s.Linux.Namespaces {
			if ns.Type == t {
				return ns, true
			}
		}
	}
	return specs.LinuxNamespace{}, false
}

// HasNamespace reports whether the config lists namespace type t, new or
// joined by path.
func HasNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	_, ok := Namespace(s, t)
	return ok
}

// NewNamespace reports whether the config asks for a new namespace of
// type t (listed without a path).
func NewNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	ns, ok := Namespace(s, t)
	return ok && ns.Path == ""
}

func validateNamespaces(c *Config) error {
	s := c.Spec
	if s.Hostname != "" && !HasNamespace(s, specs.UTSNamespace) {
		return errors.New("hostname: setting it needs a private uts namespace in linux.namespaces")
	}
	if s.Domainname != "" && !HasNamespace(s, specs.UTSNamespace) {
		return errors.New("domainname: setting it needs a private uts namespace in linux.namespaces")
	}
	l := s.Linux
	if l == nil {
		return nil
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for i, ns := range l.Namespaces {
		field := "linux.namespaces[" + strconv.Itoa(i) + "]"
		if _, err := NamespaceFlag(ns.Type); err != nil {
			return fmt.Errorf("%s.type: %w", field, err)
		}
		if seen[ns.Type] {
			return fmt.Errorf("%s.type: namespace %q is listed twice", field, ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" && !filepath.IsAbs(ns.Path) {
			return fmt.Errorf("%s.path: %q is not an absolute path", field, ns.Path)
		}
	}
	userNS := HasNamespace(s, specs.UserNamespace)
	if (len(l.UIDMappings) > 0 || len(l.GIDMappings) > 0) && !NewNamespace(s, specs.UserNamespace) {
		if userNS {
			return errors.New("linux.uidMappings: cannot be set when joining an existing user namespace by path")
		}
		return errors.New("linux.uidMappings: id mappings need a user namespace in linux.namespaces")
	}
	if NewNamespace(s, specs.UserNamespace) && (len(l.UIDMappings) == 0 || len(l.GIDMappings) == 0) {
		return errors.New("linux.uidMappings: a new user namespace needs uidMappings and gidMappings")
	}
	for i, m := range append(append([]specs.LinuxIDMapping(nil), l.UIDMappings...), l.GIDMappings...) {
		name := "linux.uidMappings"
		if i >= len(l.UIDMappings) {
			name, i = "linux.gidMappings", i-len(l.UIDMappings)
		}
		if m.Size == 0 {
			return fmt.Errorf("%s[%d].size: must be at least 1", name, i)
		}
	}
	if len(l.TimeOffsets) > 0 {
		if !NewNamespace(s, specs.TimeNamespace) {
			return errors.New("linux.timeOffsets: offsets need a new time namespace in linux.namespaces")
		}
		for clock := range l.TimeOffsets {
			if clock != "monotonic" && clock != "boottime" {
				return fmt.Errorf("linux.timeOffsets: unknown clock %q (monotonic or boottime)", clock)
			}
		}
	}
	if l.RootfsPropagation != "" {
		if _, ok := PropagationFlag(l.RootfsPropagation); !ok {
			return fmt.Errorf("linux.rootfsPropagation: unknown value %q", l.RootfsPropagation)
		}
	}
	if (len(l.MaskedPaths) > 0 || len(l.ReadonlyPaths) > 0) && !HasNamespace(s, specs.MountNamespace) {
		return errors.New("linux.maskedPaths: masking paths needs a private mount namespace in linux.namespaces")
	}
	for _, set := range []struct {
		name  string
		paths []string
	}{{"linux.maskedPaths", l.MaskedPaths}, {"linux.readonlyPaths", l.ReadonlyPaths}} {
		for i, p := range set.paths {
			if !filepath.IsAbs(p) {
				return fmt.Errorf("%s[%d]: %q is not an absolute path", set.name, i, p)
			}
		}
	}
	return nil
}

func validateMounts(c *Config) error {
	s := c.Spec
	// Without a mount namespace of its own the container shares the
	// runtime's mounts and only gets a chroot: the mounts are not made (as
	// with runc, which engines and the OCI validation suite rely on).
	for i, m := range s.Mounts {
		field := "mounts[" + strconv.Itoa(i) + "]"
		if !filepath.IsAbs(m.Destination) {
			return fmt.Errorf("%s.destination: %q is not an absolute path", field, m.Destination)
		}
		bind := IsBind(m)
		if m.Type == "" && !bind {
			return fmt.Errorf("%s.type: must be set for a mount that is not a bind mount", field)
		}
		if bind && m.Source == "" {
			return fmt.Errorf("%s.source: a bind mount needs a source", field)
		}
	}
	return nil
}

func validateDevices(c *Config) error {
	if c.Spec.Linux == nil {
		return nil
	}
	for i, d := range c.Spec.Linux.Devices {
		field := "linux.devices[" + strconv.Itoa(i) + "]"
		if !filepath.IsAbs(d.Path) {
			return fmt.Errorf("%s.path: %q is not an absolute path", field, d.Path)
		}
		switch d.Type {
		case "c", "b", "u", "p":
		default:
			return fmt.Errorf("%s.type: unknown device type %q (c, b, u or p)", field, d.Type)
		}
	}
	return nil
}

func validateHooks(c *Config) error {
	h := c.Spec.Hooks
	if h == nil {
		return nil
	}
	for _, set := range []struct {
		name  string
		hooks []specs.Hook
	}{
		{"prestart", h.Prestart}, {"createRuntime", h.CreateRuntime},
		{"createContainer", h.CreateContainer}, {"startContainer", h.StartContainer},
		{"poststart", h.Poststart}, {"poststop", h.Poststop},
	} {
		name := set.name
		for i, hook := range set.hooks {
			if !filepath.IsAbs(hook.Path) {
				return fmt.Errorf("hooks.%s[%d].path: %q is not an absolute path", name, i, hook.Path)
			}
			if hook.Timeout != nil && *hook.Timeout <= 0 {
				return fmt.Errorf("hooks.%s[%d].timeout: must be positive", name, i)
			}
		}
	}
	return nil
}

func validateSeccomp(c *Config) error {
	if c.Spec.Linux == nil {
		return nil
	}
	return seccomp.Validate(c.Spec.Linux.Seccomp)
}
