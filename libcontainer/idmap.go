package libcontainer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/huskrt/husk/libcontainer/config"
	"github.com/huskrt/husk/libcontainer/initproc"
)

// idmappedMounts makes, for each idmap/ridmap mount, a detached clone of
// the source with MOUNT_ATTR_IDMAP set, keyed by mount index. This runs
// in the parent because mount_setattr(MOUNT_ATTR_IDMAP) needs
// CAP_SYS_ADMIN over the source's filesystem, which a container in its
// own user namespace does not have; init attaches the trees with
// move_mount. The user namespace is the mount's own mappings (a short-
// lived helper process's), or the container's when the mount has none.
func idmappedMounts(spec *specs.Spec, bundle string, initPid int) (_ map[int]*os.File, retErr error) {
	var trees map[int]*os.File
	defer func() {
		if retErr != nil {
			closeTrees(trees)
		}
	}()
	for i, m := range spec.Mounts {
		opts := config.ParseMountOptions(m.Options)
		if !opts.IDMap {
			continue
		}
		if trees == nil {
			trees = map[int]*os.File{}
		}
		f, err := idmappedTree(m, opts, bundle, initPid)
		if err != nil {
			return nil, fmt.Errorf("mounts[%d] (idmapped %s on %s): %w", i, m.Source, m.Destination, err)
		}
		trees[i] = f
	}
	return trees, nil
}

func closeTrees(trees map[int]*os.File) {
	for _, f := range trees {
		f.Close()
	}
}

func idmappedTree(m specs.Mount, opts config.MountOptions, bundle string, initPid int) (*os.File, error) {
	var userns *os.File
	var err error
	if len(m.UIDMappings) > 0 {
		userns, err = mappedUserNS(m.UIDMappings, m.GIDMappings)
	} else {
		userns, err = os.Open("/proc/" + strconv.Itoa(initPid) + "/ns/user")
	}
	if err != nil {
		return nil, fmt.Errorf("user namespace for the mapping: %w", err)
	}
	defer userns.Close()
	src := m.Source
	if !filepath.IsAbs(src) {
		src = filepath.Join(bundle, src)
	}
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if opts.Flags&unix.MS_REC != 0 {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, src, flags)
	if err != nil {
		return nil, fmt.Errorf("open_tree %s: %w", src, err)
	}
	tree := os.NewFile(uintptr(fd), src)
	attrFlags := uint(unix.AT_EMPTY_PATH)
	if opts.RecursiveIDMap {
		attrFlags |= unix.AT_RECURSIVE
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns.Fd())}
	if err := unix.MountSetattr(fd, "", attrFlags, &attr); err != nil {
		tree.Close()
		return nil, fmt.Errorf("mount_setattr idmap on %s: %w", src, err)
	}
	return tree, nil
}

// mappedUserNS returns a user namespace with the given mappings. It is
// the namespace of a child started stopped (PTRACE_TRACEME stops it at
// its exec, so it never runs any code), killed once its namespace is
// open: the cheapest way to get a mapped namespace from Go, as runc does.
func mappedUserNS(uids, gids []specs.LinuxIDMapping) (*os.File, error) {
	conv := func(ms []specs.LinuxIDMapping) []syscall.SysProcIDMap {
		out := make([]syscall.SysProcIDMap, len(ms))
		for i, m := range ms {
			out[i] = syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)}
		}
		return out
	}
	p, err := os.StartProcess("/proc/self/exe", []string{"husk-idmap-helper"}, &os.ProcAttr{
		Sys: &syscall.SysProcAttr{
			Cloneflags:  unix.CLONE_NEWUSER,
			UidMappings: conv(uids),
			GidMappings: conv(gids),
			Ptrace:      true,
			Pdeathsig:   syscall.SIGKILL,
		},
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		p.Kill()
		p.Wait()
	}()
	return os.Open("/proc/" + strconv.Itoa(p.Pid) + "/ns/user")
}

// treeOrder is the order in which the trees are sent: by mount index.
func treeOrder(trees map[int]*os.File) []int {
	var idx []int
	for i := range trees {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	return idx
}

// sendTrees waits for init's request and passes the trees over the sync
// socket in one message.
func sendTrees(dec *json.Decoder, sock *os.File, trees map[int]*os.File, order []int) error {
	if len(order) == 0 {
		return nil
	}
	if err := expectMsg(dec, initproc.MsgMountFds); err != nil {
		return err
	}
	fds := make([]int, len(order))
	for i, idx := range order {
		fds[i] = int(trees[idx].Fd())
	}
	if err := unix.Sendmsg(int(sock.Fd()), []byte{0}, unix.UnixRights(fds...), nil, 0); err != nil {
		return fmt.Errorf("send idmapped mounts to init: %w", err)
	}
	return nil
}
