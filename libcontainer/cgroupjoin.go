package libcontainer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/huskrt/husk/cgroups"
)

// execCgroup opens the cgroup recorded for the container (nil when it has
// none: exec then joins none) and parses exec's --cgroup values
// ("[controller:]path", path below the container's cgroup) into
// controller -> path ("" for every controller).
func execCgroup(st *State, args []string) (*cgroups.Cgroup, map[string]string, error) {
	subs := map[string]string{}
	for _, s := range args {
		ctrl, p, ok := strings.Cut(s, ":")
		if !ok {
			ctrl, p = "", s
		}
		if p == "" || strings.Contains(p, "..") {
			return nil, nil, fmt.Errorf("--cgroup %q: want [controller:]sub-cgroup", s)
		}
		for _, c := range strings.Split(ctrl, ",") {
			subs[c] = p
		}
	}
	if st.Cgroup == nil {
		if len(subs) > 0 {
			return nil, nil, errors.New("--cgroup: the container has no cgroup")
		}
		return nil, nil, nil
	}
	c, err := cgroups.Load(st.Cgroup)
	if err != nil {
		return nil, nil, fmt.Errorf("container's cgroup: %w", err)
	}
	return c, subs, nil
}

// joinCgroup puts pid in the container's cgroup (see execCgroup).
func joinCgroup(c *cgroups.Cgroup, subs map[string]string, pid int) error {
	if c == nil {
		return nil
	}
	return c.AddPid(pid, subs)
}
