package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// cgroupDirsOf returns the directories of the cgroups the process behind
// procDir is in (one per v1 hierarchy, one for v2), as mounted in husk's
// mount namespace; subs (--cgroup, "[controller:]path") descend into
// sub-cgroups. `husk exec` puts its process there. The cgroups package
// (a later part of husk) is meant to take this over.
func cgroupDirsOf(procDir *os.File, subs []string) ([]string, error) {
	data, err := readAt(procDir, "cgroup")
	if err != nil {
		return nil, fmt.Errorf("read cgroups of the container: %w", err)
	}
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("find cgroup mounts: %w", err)
	}
	sub := map[string]string{}
	for _, s := range subs {
		ctrl, p, ok := strings.Cut(s, ":")
		if !ok {
			ctrl, p = "", s
		}
		if p == "" || strings.Contains(p, "..") {
			return nil, fmt.Errorf("--cgroup %q: want [controller:]sub-cgroup", s)
		}
		sub[ctrl] = p
	}
	var dirs []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		ctrls, path := parts[1], parts[2]
		m := cgroupMount(mounts, ctrls)
		if m == nil {
			continue // hierarchy not mounted here: nothing to join through
		}
		rel := path
		if m.Root != "/" {
			var ok bool
			if rel, ok = strings.CutPrefix(path, m.Root); !ok {
				continue // outside what this mount shows
			}
		}
		dir := filepath.Join(m.Mountpoint, rel)
		if s, ok := sub[""]; ok {
			dir = filepath.Join(dir, s)
		}
		for _, c := range strings.Split(ctrls, ",") {
			if s, ok := sub[c]; ok && c != "" {
				dir = filepath.Join(dir, s)
			}
		}
		dirs = append(dirs, dir)
	}
	return dirs, nil
}

// cgroupMount finds the mount of the hierarchy with these controllers
// ("" is cgroup v2).
func cgroupMount(mounts []*mountinfo.Info, ctrls string) *mountinfo.Info {
	for _, m := range mounts {
		if ctrls == "" {
			if m.FSType == "cgroup2" {
				return m
			}
			continue
		}
		if m.FSType != "cgroup" {
			continue
		}
		opts := "," + m.VFSOptions + ","
		all := true
		for _, c := range strings.Split(ctrls, ",") {
			all = all && strings.Contains(opts, ","+c+",")
		}
		if all {
			return m
		}
	}
	return nil
}

// joinCgroups moves pid into each of dirs. rootless: a cgroup we may not
// write is skipped.
func joinCgroups(dirs []string, pid int, rootless bool) error {
	for _, d := range dirs {
		p := filepath.Join(d, "cgroup.procs")
		if err := os.WriteFile(p, []byte(strconv.Itoa(pid)), 0); err != nil {
			if rootless && (errors.Is(err, os.ErrPermission) || errors.Is(err, unix.EROFS)) {
				continue
			}
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("join cgroup %s: it does not exist", d)
			}
			return fmt.Errorf("join cgroup %s: %w", d, err)
		}
	}
	return nil
}
