package checkpoint

import (
	"testing"

	"github.com/checkpoint-restore/go-criu/v7/rpc"
	"google.golang.org/protobuf/proto"
)

// The hand-written codec must produce what CRIU's generated code reads,
// and read what it writes: checked against go-criu's rpc package (a test
// dependency only; the binary does not link protobuf).
func TestRequestDecodesWithGeneratedCode(t *testing.T) {
	wd, mode, status := int32(7), cgFull, int32(-1)
	o := &criuOpts{
		imagesDirFd: 5, pid: 1234, leaveRunning: true, extUnixSk: true, tcpEstablished: true,
		evasiveDevices: true, shellJob: true, fileLocks: true, logLevel: 4, logFile: "dump.log",
		psAddress: "10.0.0.1", psPort: 27, notifyScripts: true, root: "/r", parentImg: "../p",
		trackMem: true, autoDedup: true, workDirFd: &wd, linkRemap: true,
		extMnt:        []extMount{{"/a", "/a"}, {"/dev/null", "/dev/null"}},
		manageCgroups: true, cgRoot: []cgRoot{{"", "/x"}, {"memory", "/y"}}, rstSibling: true,
		inheritFd:         []inheritFd{{"pipe:[1]", 1}, {"extRootNetNS", 4}},
		manageCgroupsMode: &mode, external: []string{"net[5]:extRootNetNS"}, emptyNs: 0x40000000,
		freezeCgroup: "/sys/fs/cgroup/c", tcpSkipInFlight: true, lazyPages: true, statusFd: &status,
		orphanPtsMaster: true, lsmProfile: "apparmor:p", lsmMountContext: "ctx",
	}
	var got rpc.CriuReq
	if err := proto.Unmarshal((&criuReq{typ: reqDump, opts: o, notifySuccess: true}).marshal(), &got); err != nil {
		t.Fatal(err)
	}
	want := &rpc.CriuReq{Type: rpc.CriuReqType_DUMP.Enum(), NotifySuccess: proto.Bool(true), Opts: &rpc.CriuOpts{
		ImagesDirFd: proto.Int32(5), Pid: proto.Int32(1234), LeaveRunning: proto.Bool(true), ExtUnixSk: proto.Bool(true),
		TcpEstablished: proto.Bool(true), EvasiveDevices: proto.Bool(true), ShellJob: proto.Bool(true),
		FileLocks: proto.Bool(true), LogLevel: proto.Int32(4), LogFile: proto.String("dump.log"),
		Ps:            &rpc.CriuPageServerInfo{Address: proto.String("10.0.0.1"), Port: proto.Int32(27)},
		NotifyScripts: proto.Bool(true), Root: proto.String("/r"), ParentImg: proto.String("../p"),
		TrackMem: proto.Bool(true), AutoDedup: proto.Bool(true), WorkDirFd: proto.Int32(7), LinkRemap: proto.Bool(true),
		ExtMnt: []*rpc.ExtMountMap{{Key: proto.String("/a"), Val: proto.String("/a")},
			{Key: proto.String("/dev/null"), Val: proto.String("/dev/null")}},
		ManageCgroups: proto.Bool(true),
		CgRoot: []*rpc.CgroupRoot{{Ctrl: proto.String(""), Path: proto.String("/x")},
			{Ctrl: proto.String("memory"), Path: proto.String("/y")}},
		RstSibling: proto.Bool(true),
		InheritFd: []*rpc.InheritFd{{Key: proto.String("pipe:[1]"), Fd: proto.Int32(1)},
			{Key: proto.String("extRootNetNS"), Fd: proto.Int32(4)}},
		ManageCgroupsMode: rpc.CriuCgMode_FULL.Enum(), External: []string{"net[5]:extRootNetNS"},
		EmptyNs: proto.Uint32(0x40000000), FreezeCgroup: proto.String("/sys/fs/cgroup/c"),
		TcpSkipInFlight: proto.Bool(true), LazyPages: proto.Bool(true), StatusFd: proto.Int32(-1),
		OrphanPtsMaster: proto.Bool(true), LsmProfile: proto.String("apparmor:p"), LsmMountContext: proto.String("ctx"),
	}}
	if !proto.Equal(&got, want) {
		t.Fatalf("decoded request differs:\n got %v\nwant %v", &got, want)
	}
	// A version request has no options at all.
	if b := (&criuReq{typ: reqVersion}).marshal(); string(b) != "\x08\x0a" {
		t.Fatalf("version request encodes as %q", b)
	}
}

func TestResponseFromGeneratedCode(t *testing.T) {
	for _, c := range []struct {
		in   *rpc.CriuResp
		want criuResp
	}{
		{&rpc.CriuResp{Type: rpc.CriuReqType_VERSION.Enum(), Success: proto.Bool(true),
			Version: &rpc.CriuVersion{MajorNumber: proto.Int32(3), MinorNumber: proto.Int32(17), Sublevel: proto.Int32(1), Gitid: proto.String("g")}},
			criuResp{typ: reqVersion, success: true, major: 3, minor: 17, sublevel: 1}},
		{&rpc.CriuResp{Type: rpc.CriuReqType_NOTIFY.Enum(), Success: proto.Bool(true),
			Notify: &rpc.CriuNotify{Script: proto.String("post-restore"), Pid: proto.Int32(4321)}},
			criuResp{typ: reqNotify, success: true, notifyScript: "post-restore", notifyPid: 4321}},
		{&rpc.CriuResp{Type: rpc.CriuReqType_DUMP.Enum(), Success: proto.Bool(false), CrErrno: proto.Int32(13),
			CrErrmsg: proto.String("boom"), Dump: &rpc.CriuDumpResp{Restored: proto.Bool(true)}, Status: proto.Int32(-2)},
			criuResp{typ: reqDump, errno: 13, errmsg: "boom"}},
	} {
		data, err := proto.Marshal(c.in)
		if err != nil {
			t.Fatal(err)
		}
		var got criuResp
		if err := got.unmarshal(data); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("decoded %v as %+v, want %+v", c.in, got, c.want)
		}
		if err := got.unmarshal(data[:len(data)-1]); err == nil {
			t.Errorf("truncated %v decoded without an error", c.in)
		}
	}
}
