package integration

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Stdio on the host's /dev/null (what conmon gives a container as stdin)
// becomes the container's own /dev/null, with the same access mode, as
// with runc: a file on a host mount is one CRIU cannot checkpoint. Other
// stdio (here a file) is left alone.
func TestDevNullStdioReopened(t *testing.T) {
	e := newEnv(t)
	// For fd 0 and 2: the mount point of the mount the fd's file is on
	// (from the container's mountinfo) and the access mode (the last
	// octal digit of its flags: 0 read, 1 write).
	e.write(e.spec("sh", "-c", `for fd in 0 2; do
m=$(awk '$1=="mnt_id:"{print $2}' /proc/self/fdinfo/$fd)
f=$(awk '$1=="flags:"{print substr($2, length($2))}' /proc/self/fdinfo/$fd)
echo "fd$fd $(awk -v m=$m '$1==m{print $5}' /proc/self/mountinfo) $f"
done
test -f /proc/self/fd/1 && echo file; cat <&0; echo eof`))
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	// exec.Cmd's nil Stdin is the host's /dev/null, read-only.
	r := e.huskCmd(func(c *exec.Cmd) { c.Stderr = null }, "run", e.id)
	if r.code != 0 {
		t.Fatalf("husk run: %v", r)
	}
	if got, want := strings.TrimSpace(r.stdout), "fd0 /dev 0\nfd2 /dev 1\nfile\neof"; got != want {
		t.Fatalf("container stdio:\n%s\nwant:\n%s", got, want)
	}
	e.assertGone(e.id, 0)
}
