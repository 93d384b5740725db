package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/huskrt/husk/libcontainer/config"
)

// configFile is the container's config.json as it was at create, kept in
// the state directory: exec takes the process attributes from it (as runc
// keeps its config in its state), so a later edit or removal of the
// bundle's config.json changes nothing. It is a file of its own, not part
// of state.json, so that state and list do not parse it.
const configFile = "config.json"

// saveConfig writes spec into the new container's directory. No rename is
// needed for atomicity: exec reads it only under the container's lock,
// after create (which holds that lock) is done.
func saveConfig(dir string, spec *specs.Spec) error {
	data, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("save config in %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, configFile), data, 0o600); err != nil {
		return fmt.Errorf("save config in %s: %w", dir, err)
	}
	return nil
}

// loadConfig reads the config saved at create; for a container made by a
// husk that did not save one, the bundle's config.json.
func loadConfig(h *Handle) (*config.Config, error) {
	p := filepath.Join(h.Dir, configFile)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return config.Load(h.State.Bundle)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	cfg, err := config.Parse(data, h.State.Bundle)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return cfg, nil
}
