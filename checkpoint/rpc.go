package checkpoint

import (
	"errors"
	"fmt"
)

// CRIU's RPC messages (criu/images/rpc.proto, proto2), encoded by hand.
//
// Why not go-criu's generated rpc package: it pulls in the protobuf
// runtime, which made the static husk binary 2.6 MB (38 %) bigger, and
// every husk process (the container's init included) maps the whole
// binary. husk sends one request and reads a few small responses; the
// wire format for that is a few dozen lines. The unit test checks this
// codec against go-criu's generated code (a test-only dependency).

// reqType is criu_req_type.
type reqType int32

const (
	reqDump    reqType = 1
	reqRestore reqType = 2
	reqPreDump reqType = 4
	reqNotify  reqType = 6
	reqVersion reqType = 10
)

var reqNames = map[reqType]string{reqDump: "dump", reqRestore: "restore",
	reqPreDump: "pre-dump", reqNotify: "notify", reqVersion: "version"}

func (t reqType) String() string {
	if s, ok := reqNames[t]; ok {
		return s
	}
	return fmt.Sprintf("request %d", int32(t))
}

// criu_cg_mode values.
const (
	cgIgnore int32 = 0
	cgSoft   int32 = 3
	cgFull   int32 = 4
	cgStrict int32 = 5
)

type extMount struct{ key, val string }
type inheritFd struct {
	key string
	fd  int32
}
type cgRoot struct{ ctrl, path string }

// criuOpts is the part of criu_opts husk uses (runc's set). Zero values
// are not sent; optional numbers that may be 0 are pointers.
type criuOpts struct {
	imagesDirFd       int32       // 1
	pid               int32       // 2
	leaveRunning      bool        // 3
	extUnixSk         bool        // 4
	tcpEstablished    bool        // 5
	evasiveDevices    bool        // 6
	shellJob          bool        // 7
	fileLocks         bool        // 8
	logLevel          int32       // 9
	logFile           string      // 10
	psAddress         string      // 11: criu_page_server_info.address
	psPort            int32       // 11: criu_page_server_info.port
	notifyScripts     bool        // 12
	root              string      // 13
	parentImg         string      // 14
	trackMem          bool        // 15
	autoDedup         bool        // 16
	workDirFd         *int32      // 17
	linkRemap         bool        // 18
	extMnt            []extMount  // 23
	manageCgroups     bool        // 24
	cgRoot            []cgRoot    // 25
	rstSibling        bool        // 26
	inheritFd         []inheritFd // 27
	manageCgroupsMode *int32      // 34
	external          []string    // 37
	emptyNs           uint32      // 38
	freezeCgroup      string      // 44
	tcpSkipInFlight   bool        // 46
	lazyPages         bool        // 48
	statusFd          *int32      // 49
	orphanPtsMaster   bool        // 50
	lsmProfile        string      // 53
	lsmMountContext   string      // 63
}

type criuReq struct {
	typ           reqType   // 1
	opts          *criuOpts // 2
	notifySuccess bool      // 3
}

type criuResp struct {
	typ          reqType // 1
	success      bool    // 2
	notifyScript string  // 5.1
	notifyPid    int32   // 5.2
	errno        int32   // 7
	errmsg       string  // 9
	// version (10): major, minor, sublevel
	major, minor, sublevel int32
}

// ---- encoding

type enc []byte

func (e *enc) varint(v uint64) {
	for v >= 0x80 {
		*e = append(*e, byte(v)|0x80)
		v >>= 7
	}
	*e = append(*e, byte(v))
}

func (e *enc) tag(n, wire int) { e.varint(uint64(n)<<3 | uint64(wire)) }

// int32 is sign-extended to 64 bits, as protobuf does for negatives.
func (e *enc) int32(n int, v int32) { e.tag(n, 0); e.varint(uint64(int64(v))) }
func (e *enc) uint32(n int, v uint32) {
	if v != 0 {
		e.tag(n, 0)
		e.varint(uint64(v))
	}
}
func (e *enc) bool(n int, v bool) {
	if v {
		e.tag(n, 0)
		e.varint(1)
	}
}
func (e *enc) bytes(n int, b []byte) { e.tag(n, 2); e.varint(uint64(len(b))); *e = append(*e, b...) }
func (e *enc) str(n int, s string) {
	if s != "" {
		e.bytes(n, []byte(s))
	}
}

// strAlways sends a required string even when empty.
func (e *enc) strAlways(n int, s string) { e.bytes(n, []byte(s)) }

func (o *criuOpts) marshal() []byte {
	var e enc
	e.int32(1, o.imagesDirFd) // required
	if o.pid != 0 {
		e.int32(2, o.pid)
	}
	e.bool(3, o.leaveRunning)
	e.bool(4, o.extUnixSk)
	e.bool(5, o.tcpEstablished)
	e.bool(6, o.evasiveDevices)
	e.bool(7, o.shellJob)
	e.bool(8, o.fileLocks)
	if o.logLevel != 0 {
		e.int32(9, o.logLevel)
	}
	e.str(10, o.logFile)
	if o.psAddress != "" || o.psPort != 0 {
		var ps enc
		ps.str(1, o.psAddress)
		ps.int32(2, o.psPort)
		e.bytes(11, ps)
	}
	e.bool(12, o.notifyScripts)
	e.str(13, o.root)
	e.str(14, o.parentImg)
	e.bool(15, o.trackMem)
	e.bool(16, o.autoDedup)
	if o.workDirFd != nil {
		e.int32(17, *o.workDirFd)
	}
	e.bool(18, o.linkRemap)
	for _, m := range o.extMnt {
		var sub enc
		sub.strAlways(1, m.key)
		sub.strAlways(2, m.val)
		e.bytes(23, sub)
	}
	e.bool(24, o.manageCgroups)
	for _, c := range o.cgRoot {
		var sub enc
		sub.strAlways(1, c.ctrl)
		sub.strAlways(2, c.path)
		e.bytes(25, sub)
	}
	e.bool(26, o.rstSibling)
	for _, f := range o.inheritFd {
		var sub enc
		sub.strAlways(1, f.key)
		sub.int32(2, f.fd)
		e.bytes(27, sub)
	}
	if o.manageCgroupsMode != nil {
		e.int32(34, *o.manageCgroupsMode)
	}
	for _, s := range o.external {
		e.strAlways(37, s)
	}
	e.uint32(38, o.emptyNs)
	e.str(44, o.freezeCgroup)
	e.bool(46, o.tcpSkipInFlight)
	e.bool(48, o.lazyPages)
	if o.statusFd != nil {
		e.int32(49, *o.statusFd)
	}
	e.bool(50, o.orphanPtsMaster)
	e.str(53, o.lsmProfile)
	e.str(63, o.lsmMountContext)
	return e
}

func (r *criuReq) marshal() []byte {
	var e enc
	e.int32(1, int32(r.typ))
	if r.opts != nil {
		e.bytes(2, r.opts.marshal())
	}
	e.bool(3, r.notifySuccess)
	return e
}

// ---- decoding

var errTruncated = errors.New("truncated protobuf message")

func varint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errTruncated
}

// fields calls fn for each field of a message: its number and either
// its varint value or its bytes. Other wire types are skipped.
func fields(b []byte, fn func(n int, v uint64, data []byte)) error {
	for len(b) > 0 {
		key, k, err := varint(b)
		if err != nil {
			return err
		}
		b = b[k:]
		n := int(key >> 3)
		switch key & 7 {
		case 0:
			v, k, err := varint(b)
			if err != nil {
				return err
			}
			fn(n, v, nil)
			b = b[k:]
		case 1:
			if len(b) < 8 {
				return errTruncated
			}
			b = b[8:]
		case 5:
			if len(b) < 4 {
				return errTruncated
			}
			b = b[4:]
		case 2:
			l, k, err := varint(b)
			if err != nil || uint64(len(b)-k) < l {
				return errTruncated
			}
			fn(n, 0, b[k:k+int(l)])
			b = b[k+int(l):]
		default:
			return fmt.Errorf("protobuf wire type %d not supported", key&7)
		}
	}
	return nil
}

func (r *criuResp) unmarshal(b []byte) error {
	var sub error
	err := fields(b, func(n int, v uint64, data []byte) {
		switch n {
		case 1:
			r.typ = reqType(int32(v))
		case 2:
			r.success = v != 0
		case 5:
			sub = errors.Join(sub, fields(data, func(n int, v uint64, data []byte) {
				switch n {
				case 1:
					r.notifyScript = string(data)
				case 2:
					r.notifyPid = int32(v)
				}
			}))
		case 7:
			r.errno = int32(v)
		case 9:
			r.errmsg = string(data)
		case 10:
			sub = errors.Join(sub, fields(data, func(n int, v uint64, data []byte) {
				switch n {
				case 1:
					r.major = int32(v)
				case 2:
					r.minor = int32(v)
				case 4:
					r.sublevel = int32(v)
				}
			}))
		}
	})
	return errors.Join(err, sub)
}
