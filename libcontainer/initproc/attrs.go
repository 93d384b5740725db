package initproc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/huskrt/husk/libcontainer/config"
)

// Helpers for the process attributes init applies (see the steps in
// init.go).

// openHostProc opens the /proc husk started with, before the container's
// mounts exist, so later writes (sysctls, oom_score_adj) reach the real
// procfs whatever the container mounts on its /proc. Writes through it
// still act on init's own namespaces: /proc/sys resolves net, ipc and uts
// entries against the writer's namespaces.
func openHostProc() (*os.File, error) {
	f, err := os.OpenFile("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil || st.Type != unix.PROC_SUPER_MAGIC {
		f.Close()
		return nil, errors.New("/proc is not procfs")
	}
	return f, nil
}

// writeProc writes value to rel under the procfs proc, refusing any
// symlink but /proc/self and any other filesystem on the way.
func writeProc(proc *os.File, rel, value string) error {
	how := unix.OpenHow{
		Flags:   unix.O_WRONLY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	}
	fd, err := unix.Openat2(int(proc.Fd()), rel, &how)
	if errors.Is(err, unix.ENOSYS) { // before 5.6: O_NOFOLLOW on the last component at least
		fd, err = unix.Openat(int(proc.Fd()), rel, unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	}
	if err != nil {
		return fmt.Errorf("open /proc/%s: %w", rel, err)
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	if _, err := f.Write([]byte(value)); err != nil {
		return fmt.Errorf("write /proc/%s: %w", rel, err)
	}
	return nil
}

// setSysctls writes linux.sysctl (validated to belong to the container's
// own namespaces) in name order.
func setSysctls(proc *os.File, sysctl map[string]string) error {
	keys := make([]string, 0, len(sysctl))
	for k := range sysctl {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := writeProc(proc, "sys/"+config.SysctlPath(k), sysctl[k]); err != nil {
			return fmt.Errorf("linux.sysctl.%s: %w", k, err)
		}
	}
	return nil
}

// setScheduler applies process.scheduler with sched_setattr(2).
func setScheduler(s *specs.Scheduler) error {
	pol, _ := config.SchedPolicy(s.Policy)
	attr := unix.SchedAttr{
		Policy:   pol,
		Nice:     s.Nice,
		Priority: uint32(s.Priority),
		Runtime:  s.Runtime,
		Deadline: s.Deadline,
		Period:   s.Period,
	}
	for _, f := range s.Flags {
		v, _ := config.SchedFlag(f)
		attr.Flags |= v
	}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		return fmt.Errorf("process.scheduler (%s): sched_setattr: %w", s.Policy, err)
	}
	return nil
}

// setIOPriority applies process.ioPriority with ioprio_set(2).
func setIOPriority(p *specs.LinuxIOPriority) error {
	class, _ := config.IOPrioClass(p.Class)
	const whoProcess, classShift = 1, 13
	prio := class<<classShift | p.Priority
	if _, _, e := unix.Syscall(unix.SYS_IOPRIO_SET, whoProcess, 0, uintptr(prio)); e != 0 {
		return fmt.Errorf("process.ioPriority (%s %d): ioprio_set: %w", p.Class, p.Priority, e)
	}
	return nil
}

// setPersonality applies linux.personality (kept across exec).
func setPersonality(p *specs.LinuxPersonality) error {
	v, _ := config.Personality(p.Domain)
	if _, _, e := unix.Syscall(unix.SYS_PERSONALITY, uintptr(v), 0, 0); e != 0 {
		return fmt.Errorf("linux.personality %s: %w", p.Domain, e)
	}
	return nil
}

// setAffinity pins the process (all its threads: init is not yet
// multi-threaded in a way that matters, and exec keeps the calling
// thread's mask) to the cpu list.
func setAffinity(field, list string) error {
	set, err := config.ParseCPUList(list)
	if err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	if err := unix.SchedSetaffinity(0, set); err != nil {
		return fmt.Errorf("%s %s: sched_setaffinity: %w", field, list, err)
	}
	return nil
}

// recvIDMapped asks the parent for the idmapped trees it prepared and
// returns them by mount index.
func recvIDMapped(sock *os.File, enc interface{ Encode(any) error }, order []int) (map[int]*os.File, error) {
	if err := enc.Encode(Message{Type: MsgMountFds}); err != nil {
		return nil, fmt.Errorf("ask for idmapped mounts: %w", err)
	}
	oob := make([]byte, unix.CmsgSpace(4*len(order)))
	_, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), make([]byte, 1), oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("receive idmapped mounts: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("receive idmapped mounts: bad control message (%v)", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != len(order) {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("receive idmapped mounts: got %d descriptors, want %d (%v)", len(fds), len(order), err)
	}
	trees := make(map[int]*os.File, len(order))
	for i, idx := range order {
		trees[idx] = os.NewFile(uintptr(fds[i]), "idmapped")
	}
	return trees, nil
}

// homeFromPasswd returns the home directory of uid in the container's
// /etc/passwd (init is already inside the container's root), or "/" as
// runc does when there is none. The file is read only if it is a regular
// file, and only its first megabyte: the image cannot make init hang on a
// fifo or a device.
func homeFromPasswd(uid uint32) string {
	f, err := os.OpenFile("/etc/passwd", os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return "/"
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "/"
	}
	want := []byte(strconv.FormatUint(uint64(uid), 10))
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		// name:password:uid:gid:gecos:home:shell
		fields := bytes.Split(sc.Bytes(), []byte(":"))
		if len(fields) >= 6 && bytes.Equal(fields[2], want) && len(fields[5]) > 0 {
			return string(fields[5])
		}
	}
	return "/"
}

// withHome adds HOME from the passwd file when the environment has none.
func withHome(env []string, uid uint32) []string {
	for _, e := range env {
		if strings.HasPrefix(e, "HOME=") {
			return env
		}
	}
	return append(slices.Clip(env), "HOME="+homeFromPasswd(uid))
}
