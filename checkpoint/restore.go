package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	cg "github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/huskrt/husk/libcontainer"
	"github.com/huskrt/husk/libcontainer/config"
	"github.com/huskrt/husk/libcontainer/rootfs"
	"github.com/huskrt/husk/libcontainer/terminal"
)

// RestoreOptions are restore's own flags besides the shared Options.
type RestoreOptions struct {
	Options
	Create          libcontainer.CreateOpts // id, config, pid file, console socket, cgroup driver
	LsmProfile      string
	LsmMountContext string
}

// Restore makes container Create.ID from the images in ImagePath (the id
// may differ from the checkpointed one) and returns its init's pid, a
// child of husk. On failure nothing is left: no state entry, cgroup or
// restored process.
func Restore(o RestoreOptions) (pid int, retErr error) {
	spec := o.Create.Config.Spec
	if spec.Process != nil && spec.Process.Terminal && o.Create.ConsoleSocket == "" && !o.ShellJob {
		return 0, errors.New("cannot restore a terminal container without --console-socket")
	}
	imageDir, err := openDir(o.ImagePath, "image path", false)
	if err != nil {
		return 0, err
	}
	defer imageDir.Close()
	if _, err := os.Stat(filepath.Join(o.ImagePath, "inventory.img")); err != nil {
		return 0, fmt.Errorf("image path %s: no checkpoint there (inventory.img: %w)", o.ImagePath, unwrapPath(err))
	}
	if _, err := o.Criu.Version(); err != nil {
		return 0, err
	}
	opts := &criuOpts{
		imagesDirFd:     int32(imageDir.Fd()),
		evasiveDevices:  true,
		logLevel:        4,
		logFile:         restoreLog,
		rstSibling:      true, // the init becomes husk's child, not CRIU's
		manageCgroups:   true,
		notifyScripts:   true,
		shellJob:        o.ShellJob,
		extUnixSk:       o.ExtUnixSk,
		tcpEstablished:  o.TCPEstablished,
		fileLocks:       o.FileLocks,
		orphanPtsMaster: true,
		autoDedup:       o.AutoDedup,
		lazyPages:       o.LazyPages,
		lsmProfile:      o.LsmProfile,
		lsmMountContext: o.LsmMountContext,
	}
	req := &criuReq{typ: reqRestore, opts: opts}
	workDir, err := openWorkDir(opts, o.WorkPath)
	if err != nil {
		return 0, err
	}
	defer workDir.Close()
	if err := commonOpts(opts, o.Options); err != nil {
		return 0, err
	}
	s := &session{logPath: filepath.Join(logDir(o.ImagePath, o.WorkPath), restoreLog), stdio: [3]*os.File{o.Create.Stdin, o.Create.Stdout, o.Create.Stderr}}
	// Namespaces the container joins by path are handed to CRIU open.
	for _, t := range []specs.LinuxNamespaceType{specs.NetworkNamespace, specs.PIDNamespace} {
		p := nsPath(spec, t)
		if p == "" {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return 0, fmt.Errorf("linux.namespaces %s path %s: %w", t, p, unwrapPath(err))
		}
		defer f.Close()
		opts.inheritFd = append(opts.inheritFd, inheritFd{nsKey(t), int32(4 + len(s.extra))})
		s.extra = append(s.extra, f)
	}
	restoreMounts(opts, spec, o.Create.Config.Rootfs, o.Create.Config.Bundle)
	if err := rootfs.PrepareRestore(spec, o.Create.Config.Rootfs, o.Create.Config.Bundle); err != nil {
		return 0, err
	}
	binds, err := v1CgroupBinds(spec, o.Create.Config.Rootfs)
	if err != nil {
		return 0, err
	}
	if err := inheritStdio(opts, o.ImagePath); err != nil {
		return 0, err
	}

	// From here on, a failure must undo the container entry and cgroup.
	rs, err := libcontainer.BeginRestore(o.Create)
	if err != nil {
		return 0, err
	}
	defer func() {
		if retErr != nil {
			rs.Abort()
		} else {
			rs.Done()
		}
	}()
	// CRIU wants a root that is a mount point whose parent is not
	// overmounted: a bind of the rootfs on a fresh directory outside the
	// state dir (so no RemoveAll can ever reach into the rootfs).
	root, err := os.MkdirTemp("", "husk-criu-root-")
	if err != nil {
		return 0, fmt.Errorf("criu root: %w", err)
	}
	defer os.Remove(root)
	if err := unix.Mount(o.Create.Config.Rootfs, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return 0, fmt.Errorf("bind rootfs %s on %s: %w", o.Create.Config.Rootfs, root, err)
	}
	defer unix.Unmount(root, unix.MNT_DETACH)
	opts.root = root

	s.started = func(criuPid int) error {
		if err := rs.Join(criuPid); err != nil {
			return err
		}
		// CRIU restores the tasks' cgroups below the container's.
		paths, err := cg.ParseCgroupFile(fmt.Sprintf("/proc/%d/cgroup", criuPid))
		if err != nil {
			return fmt.Errorf("criu cgroups: %w", err)
		}
		for ctrl, p := range paths {
			opts.cgRoot = append(opts.cgRoot, cgRoot{ctrl, p})
		}
		// The container's cgroup bind mounts (v1, no cgroup namespace)
		// come from its new cgroup, where CRIU now is.
		binds.add(opts, func(h *mountinfo.Info) string { return rootfs.CgroupBindSource(h, paths) })
		return nil
	}
	s.notify = func(r *criuResp, oob []byte) error {
		switch r.notifyScript {
		case "post-restore":
			pid = int(r.notifyPid)
			return rs.Restored(pid, o.Create.PidFile)
		case "setup-namespaces":
			return rs.RuntimeHooks(int(r.notifyPid))
		case "orphan-pts-master":
			return sendConsole(o.Create.ConsoleSocket, oob)
		}
		return nil
	}
	if _, err := o.Criu.call(req, s); err != nil {
		if pid > 0 {
			return pid, err
		}
		return 0, err
	}
	if pid <= 0 {
		return 0, fmt.Errorf("criu failed: restore: no post-restore notification%s", s.logHint())
	}
	return pid, nil
}

// restoreMounts maps the names dumpMounts gave the external mounts to this
// host's sources (which may differ from the checkpointing host's).
func restoreMounts(opts *criuOpts, spec *specs.Spec, rootfs, bundle string) {
	add := func(key, val string) {
		opts.extMnt = append(opts.extMnt, extMount{key, val})
	}
	for _, m := range spec.Mounts {
		if !config.IsBind(m) {
			continue
		}
		src := m.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(bundle, src)
		}
		add(mountDest(rootfs, m.Destination), src)
	}
	if spec.Linux != nil && len(spec.Linux.MaskedPaths) > 0 {
		add("/dev/null", "/dev/null")
	}
	for _, d := range devicePaths(spec) {
		add(d, d)
	}
}

// inheritStdio: where the checkpointed init had a pipe on fd 0-2, the
// restored one gets husk's own fd (runc does the same).
func inheritStdio(opts *criuOpts, imagePath string) error {
	data, err := os.ReadFile(filepath.Join(imagePath, descriptorsFile))
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("image path: %w", err)
	}
	var fds []string
	if err := json.Unmarshal(data, &fds); err != nil {
		return fmt.Errorf("image path: %s: %w", descriptorsFile, err)
	}
	for i, f := range fds {
		if strings.HasPrefix(f, "pipe:") {
			opts.inheritFd = append(opts.inheritFd, inheritFd{f, int32(i)})
		}
	}
	return nil
}

// sendConsole passes the restored terminal's master (CRIU's
// orphan-pts-master notification) to the engine's console socket.
func sendConsole(path string, oob []byte) error {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil || len(msgs) == 0 {
		return fmt.Errorf("criu orphan-pts-master: no descriptor: %v", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) == 0 {
		return fmt.Errorf("criu orphan-pts-master: no descriptor: %v", err)
	}
	master := os.NewFile(uintptr(fds[0]), "pty-master")
	defer master.Close()
	if path == "" {
		return nil
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("console socket: %w", err)
	}
	sock := os.NewFile(uintptr(fd), path)
	defer sock.Close()
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return fmt.Errorf("connect to console socket %s: %w", path, err)
	}
	return terminal.SendFd(sock, master.Name(), master)
}
