package initproc

import (
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// runExec is `husk init` for `husk exec`. nsenter has joined every
// namespace of the container (the mount namespace puts us at the
// container's root) and forked us into its pid namespace; the container's
// rootfs, hostname and /dev/console already exist. So only the process
// is set up, with the same steps as the container's init.
func runExec(c *Config, s *syncer) error {
	// Step 1: our own session, so a terminal can become controlling and
	// the process is not in the caller's job control.
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}

	// Step 2: a container without a mount namespace of its own runs
	// chrooted to its rootfs; so does its exec'd process.
	if !slices.Contains(c.NewNamespaces, specs.MountNamespace) {
		if err := unix.Chroot(c.Rootfs); err != nil {
			return fmt.Errorf("chroot %s: %w", c.Rootfs, err)
		}
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}

	// Step 3: a terminal of its own on the container's devpts
	// (/dev/console stays the init's).
	if c.ConsoleFd >= 0 {
		if err := setupConsole(c, false); err != nil {
			return err
		}
	}

	// Step 4: the process attributes, as for the init (process.go).
	prep, err := setupProcess(c, s)
	if err != nil {
		return err
	}

	// Step 5: report ready, wait for the parent's go, exec.
	if err := s.readyAndWait(); err != nil {
		return err
	}
	return execProcess(c, prep)
}
