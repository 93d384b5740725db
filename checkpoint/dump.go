package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/huskrt/husk/libcontainer"
	"github.com/huskrt/husk/libcontainer/config"
)

// Options are runc's checkpoint and restore flags.
type Options struct {
	Criu                Criu
	Root, ID            string
	ImagePath, WorkPath string
	ParentPath          string // checkpoint: relative to ImagePath
	LeaveRunning        bool
	TCPEstablished      bool
	TCPSkipInFlight     bool
	ExtUnixSk           bool
	ShellJob            bool
	FileLocks           bool
	PreDump             bool
	PageServer          string // ADDRESS:PORT
	LazyPages           bool
	StatusFd            int // -1: none
	ManageCgroupsMode   string
	EmptyNs             []string
	AutoDedup           bool
	LinkRemap           bool
	Warn                func(error)
}

const (
	dumpLog    = "dump.log"
	restoreLog = "restore.log"
	// descriptorsFile keeps what the init's stdio were, for restore's
	// InheritFd (runc's name and format).
	descriptorsFile = "descriptors.json"
)

// Checkpoint dumps a running container into opts.ImagePath. Unless it is a
// pre-dump or LeaveRunning, the container is gone afterwards (CRIU kills
// it, husk removes its cgroup and state, as runc does). On failure the
// container is left as it was.
func Checkpoint(o Options) error {
	h, err := libcontainer.Lock(o.Root, o.ID)
	if err != nil {
		return err
	}
	defer h.Close()
	switch st := h.State.Status(h.Dir); st {
	case libcontainer.Running, libcontainer.Paused:
	default:
		return fmt.Errorf("container %s is not running (%s)", o.ID, st)
	}
	cfg, err := config.Load(h.State.Bundle)
	if err != nil {
		return err
	}
	spec := cfg.Spec
	if _, err := o.Criu.Version(); err != nil {
		return err
	}

	imageDir, err := openDir(o.ImagePath, "image path", true)
	if err != nil {
		return err
	}
	defer imageDir.Close()
	if o.ParentPath != "" {
		if filepath.IsAbs(o.ParentPath) {
			return errors.New("--parent-path: must be relative to the image path")
		}
		if fi, err := os.Stat(filepath.Join(o.ImagePath, o.ParentPath)); err != nil || !fi.IsDir() {
			return fmt.Errorf("--parent-path %s: not a directory in %s", o.ParentPath, o.ImagePath)
		}
	}
	opts := &criuOpts{
		imagesDirFd:     int32(imageDir.Fd()),
		logLevel:        4,
		logFile:         dumpLog,
		root:            h.State.Rootfs,
		manageCgroups:   true,
		notifyScripts:   true,
		pid:             int32(h.State.Pid),
		shellJob:        o.ShellJob,
		leaveRunning:    o.LeaveRunning,
		tcpEstablished:  o.TCPEstablished,
		tcpSkipInFlight: o.TCPSkipInFlight,
		extUnixSk:       o.ExtUnixSk,
		fileLocks:       o.FileLocks,
		orphanPtsMaster: true,
		autoDedup:       o.AutoDedup,
		lazyPages:       o.LazyPages,
		linkRemap:       o.LinkRemap,
	}
	req := &criuReq{typ: reqDump, opts: opts}
	workDir, err := openWorkDir(opts, o.WorkPath)
	if err != nil {
		return err
	}
	defer workDir.Close()
	if err := commonOpts(opts, o); err != nil {
		return err
	}
	// CRIU freezes the whole cgroup (consistent with what runs in it,
	// and it works on a paused container) instead of seizing each task.
	if paths := h.State.CgroupPaths(); paths != nil {
		if p, ok := paths["freezer"]; ok {
			opts.freezeCgroup = p
		} else if p, ok := paths[""]; ok {
			opts.freezeCgroup = p
		}
	}
	if o.ParentPath != "" {
		opts.parentImg = o.ParentPath
	}
	if err := externalNamespaces(opts, spec); err != nil {
		return err
	}
	var statusFd *os.File
	if o.LazyPages && o.StatusFd >= 0 {
		flags, err := unix.FcntlInt(uintptr(o.StatusFd), unix.F_GETFL, 0)
		if err != nil || flags&(unix.O_WRONLY|unix.O_RDWR) == 0 {
			return fmt.Errorf("--status-fd %d: not an open, writable descriptor", o.StatusFd)
		}
		statusFd = os.NewFile(uintptr(o.StatusFd), "status-fd")
		defer statusFd.Close()
	}
	switch {
	case o.PreDump:
		req.typ = reqPreDump
		opts.trackMem = true
	default:
		if o.LazyPages {
			opts.trackMem = true
		}
		// Mounts, masks and devices only matter for the final dump.
		if err := dumpMounts(opts, spec, h.State.Rootfs, h.State.Pid); err != nil {
			return err
		}
		if err := writeDescriptors(o.ImagePath, h.State.Pid); err != nil {
			return err
		}
	}
	s := &session{logPath: filepath.Join(logDir(o.ImagePath, o.WorkPath), dumpLog), notify: func(r *criuResp, _ []byte) error {
		if r.notifyScript == "status-ready" && statusFd != nil {
			// lazy pages: the page server is up, the peer may restore.
			statusFd.Write([]byte{0})
			statusFd.Close()
			statusFd = nil
		}
		return nil
	}}
	if _, err := o.Criu.call(req, s); err != nil {
		return err
	}
	if o.PreDump || o.LeaveRunning {
		return nil
	}
	return h.Destroy(o.Warn)
}

// commonOpts are the options dump and restore share.
func commonOpts(opts *criuOpts, o Options) error {
	if o.ManageCgroupsMode != "" {
		m, ok := map[string]int32{"soft": cgSoft, "full": cgFull, "strict": cgStrict, "ignore": cgIgnore}[o.ManageCgroupsMode]
		if !ok {
			return fmt.Errorf("--manage-cgroups-mode: invalid value %q (want soft, full, strict or ignore)", o.ManageCgroupsMode)
		}
		opts.manageCgroupsMode = ptr(m)
	}
	var empty uint32
	for _, ns := range o.EmptyNs {
		if ns != "network" {
			return fmt.Errorf("--empty-ns: unsupported namespace %q (only network)", ns)
		}
		empty |= unix.CLONE_NEWNET
	}
	opts.emptyNs = empty
	if o.PageServer != "" {
		// Not net.SplitHostPort: the net package would add a megabyte.
		i := strings.LastIndexByte(o.PageServer, ':')
		host := strings.Trim(o.PageServer[:max(i, 0)], "[]")
		p, err := strconv.Atoi(o.PageServer[i+1:])
		if i < 0 || err != nil || p <= 0 || p > 65535 {
			return fmt.Errorf("--page-server %q: want ADDRESS:PORT", o.PageServer)
		}
		opts.psAddress, opts.psPort = host, int32(p)
	}
	return nil
}

// openWorkDir opens --work-path, when given, for CRIU's work files and
// logs; the caller closes it (Close on a nil *os.File is harmless).
func openWorkDir(opts *criuOpts, path string) (*os.File, error) {
	if path == "" {
		return nil, nil
	}
	dir, err := openDir(path, "work path", true)
	if err != nil {
		return nil, err
	}
	opts.workDirFd = ptr(int32(dir.Fd()))
	return dir, nil
}

// logDir is where CRIU writes its log: the work path if given, else the
// image path.
func logDir(imagePath, workPath string) string {
	if workPath != "" {
		return workPath
	}
	return imagePath
}

// openDir makes dir (0700, as runc) and opens it; for writing, it must be
// writable (a read-only mount fails here, not deep inside CRIU).
func openDir(dir, what string, write bool) (*os.File, error) {
	if dir == "" {
		return nil, fmt.Errorf("%s: must be set", what)
	}
	if write {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("%s %s: %w", what, dir, unwrapPath(err))
		}
		if err := unix.Access(dir, unix.W_OK); err != nil {
			return nil, fmt.Errorf("%s %s: not writable: %w", what, dir, err)
		}
	}
	f, err := os.OpenFile(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, dir, unwrapPath(err))
	}
	return f, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// externalNamespaces: a namespace the container joined by path (an
// engine's network namespace) belongs to someone else; CRIU records it as
// external and restore hands it back by descriptor (runc's keys).
func externalNamespaces(opts *criuOpts, spec *specs.Spec) error {
	for _, t := range []specs.LinuxNamespaceType{specs.NetworkNamespace, specs.PIDNamespace} {
		p := nsPath(spec, t)
		if p == "" {
			continue
		}
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			return fmt.Errorf("linux.namespaces %s path %s: %w", t, p, err)
		}
		opts.external = append(opts.external, fmt.Sprintf("%s[%d]:%s", criuNS(t), st.Ino, nsKey(t)))
	}
	return nil
}

func nsPath(spec *specs.Spec, t specs.LinuxNamespaceType) string {
	ns, _ := config.Namespace(spec, t)
	return ns.Path
}

func criuNS(t specs.LinuxNamespaceType) string {
	if t == specs.NetworkNamespace {
		return "net"
	}
	return string(t)
}

func nsKey(t specs.LinuxNamespaceType) string {
	if t == specs.NetworkNamespace {
		return "extRootNetNS"
	}
	return "extRootPidNS"
}

// defaultDevices are the nodes husk always makes in /dev.
var defaultDevices = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}

// dumpMounts describes to CRIU what it cannot dump itself, as runc does:
// bind mounts (external, named by their destination), masked files (bind
// mounts of /dev/null) and device nodes (bind mounts in a user namespace).
func dumpMounts(opts *criuOpts, spec *specs.Spec, rootfs string, pid int) error {
	add := func(key, val string) {
		opts.extMnt = append(opts.extMnt, extMount{key, val})
	}
	for _, m := range spec.Mounts {
		if config.IsBind(m) {
			d := mountDest(rootfs, m.Destination)
			add(d, d)
		}
	}
	if spec.Linux != nil {
		for _, p := range spec.Linux.MaskedPaths {
			fi, err := os.Stat(fmt.Sprintf("/proc/%d/root/%s", pid, p))
			if err != nil || fi.IsDir() {
				continue // a directory is masked by a tmpfs CRIU dumps
			}
			add(p, "/dev/null")
		}
	}
	for _, d := range devicePaths(spec) {
		add(d, d)
	}
	binds, err := v1CgroupBinds(spec, rootfs)
	if err != nil {
		return err
	}
	binds.add(opts, nil)
	return nil
}

// mountDest is the destination as it is inside the container (a symlink
// in the rootfs resolved, as husk did when it mounted it).
func mountDest(rootfs, dest string) string {
	if p, err := securejoin.SecureJoin(rootfs, dest); err == nil {
		return "/" + strings.TrimPrefix(strings.TrimPrefix(p, rootfs), "/")
	}
	return dest
}

func devicePaths(spec *specs.Spec) []string {
	out := append([]string(nil), defaultDevices...)
	if spec.Linux != nil {
		for _, d := range spec.Linux.Devices {
			out = append(out, d.Path)
		}
	}
	return out
}

// writeDescriptors saves what the init's fds 0-2 are (runc's
// descriptors.json): restore maps pipes among them to its own stdio.
func writeDescriptors(dir string, pid int) error {
	fds := make([]string, 3)
	for i := range fds {
		fds[i], _ = os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, i))
	}
	data, _ := json.Marshal(fds)
	if err := os.WriteFile(filepath.Join(dir, descriptorsFile), data, 0o600); err != nil {
		return fmt.Errorf("image path: %w", err)
	}
	return nil
}
