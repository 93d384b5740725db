// Package config turns a bundle's config.json into a validated Config: the
// first step of husk's data flow (config.json -> validated config -> init ->
// running process). Nothing here touches the host beyond reading the bundle.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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

// Load reads and validates <bundle>/config.json. Every error is one line
// that starts with "config.json: " and names the field at fault.
func Load(bundle string) (*Config, error) {
	abs, err := filepath.Abs(bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", bundle, err)
	}
	data, err := os.ReadFile(filepath.Join(abs, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	return Parse(data, abs)
}

// Parse decodes and validates a config.json for the bundle directory
// bundle (absolute). Unknown keys are allowed: newer spec versions add them.
func Parse(data []byte, bundle string) (*Config, error) {
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("config.json: %s", describeJSONError(data, err))
	}
	c := &Config{Bundle: bundle, Spec: &spec}
	if spec.Root != nil {
		c.Rootfs = spec.Root.Path
		if c.Rootfs != "" && !filepath.IsAbs(c.Rootfs) {
			c.Rootfs = filepath.Join(bundle, c.Rootfs)
		}
	}
	if err := Validate(c); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	return c, nil
}

// describeJSONError turns a decoding error into "line L, column C: ..." so
// an operator can find the bad byte.
func describeJSONError(data []byte, err error) string {
	var offset int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		offset = syn.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
		if typ.Field != "" {
			return fmt.Sprintf("%s: cannot use JSON %s as %s (line %d)", typ.Field, typ.Value, typ.Type, lineOf(data, offset))
		}
	}
	if offset < 0 {
		return err.Error()
	}
	line, col := 1, 1
	for _, b := range data[:min(int(offset), len(data))] {
		if b == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}

func lineOf(data []byte, offset int64) int {
	return 1 + strings.Count(string(data[:min(int(offset), len(data))]), "\n")
}

// ValidateID refuses ids that could escape the state root or confuse
// engines, with runc's rule: letters, digits, and _ + - . only.
func ValidateID(id string) error {
	ok := id != "" && id != "." && id != ".."
	for _, r := range id {
		ok = ok && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_+-.", r))
	}
	if !ok {
		return fmt.Errorf("invalid container id %q: use letters, digits and _ + - . only", id)
	}
	return nil
}
