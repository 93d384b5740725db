// Package config turns a bundle's config.json into a validated Config: the
// first step of husk's data flow (config.json -> validated config -> init ->
// running process). Nothing here touches the host beyond reading the bundle.
package config

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Config is a bundle's config.json after validation. Every later step (the
// lifecycle code in libcontainer and the init process) may rely on the
// invariants Validate checks instead of re-checking them.
type Config struct {
	Bundle string      // absolute path of the bundle directory
	Rootfs string      // absolute path of root.path (relative paths resolved against Bundle)
	Spec   *specs.Spec // the parsed config.json
}
