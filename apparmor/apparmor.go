// Package apparmor applies process.apparmorProfile: the profile is set
// for the next exec of the calling thread, so the container's process
// starts confined and nothing of husk runs under it.
package apparmor

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Enabled reports whether the kernel has AppArmor on.
func Enabled() bool {
	buf, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.HasPrefix(string(buf), "Y")
}

// ApplyProfile makes the next exec of this thread enter profile (nothing
// for ""). The profile must already be loaded in the kernel.
func ApplyProfile(profile string) error {
	if profile == "" {
		return nil
	}
	// The AppArmor-specific file first (kernels >= 5.8 with stacked LSMs),
	// the shared one before that. /proc/thread-self: the attribute is
	// per thread, and init runs on one locked thread.
	err := writeAttr("/proc/thread-self/attr/apparmor/exec", profile)
	if errors.Is(err, unix.ENOENT) {
		err = writeAttr("/proc/thread-self/attr/exec", profile)
	}
	if err == nil {
		return nil
	}
	if !Enabled() {
		return fmt.Errorf("profile %q requested but AppArmor is not enabled on this host", profile)
	}
	return fmt.Errorf("profile %q: %w", profile, err)
}

func writeAttr(path, profile string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteString("exec " + profile); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
