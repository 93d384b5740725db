#!/bin/bash
# tests/kernel/run.sh: `make test-kernel`, the kernel lane.
#
#   RUNTIME=/abs/path/to/runtime tests/kernel/run.sh
#
# Runs the kernel-dependent integration tests (TestKernel* in ./tests/integration)
# under a real Debian bookworm 6.1 kernel booted once in qemu (TCG, no KVM), where
# cgroup v2 is the only cgroup hierarchy, AppArmor is on, CRIU works and user
# namespaces are available (see vmlane.sh and README.md here). The tests get
# HUSK_KERNEL_LANE=1 (a missing kernel feature FAILS instead of skipping) and
# HUSK_RUNTIME=/payload/<runtime>.
#
# Environment:
#   RUNTIME               runtime under test (default: ./husk of the repo)
#   HUSK_KERNEL_PKG       Go test package (default ./tests/integration): a path
#                         (a directory outside this module is built from inside
#                         it, with its own go.mod) or an import path
#   HUSK_KERNEL_RUN       -test.run pattern (default ^TestKernel)
#   HUSK_KERNEL_COUNT     -test.count (default 1; more to chase a flaky test)
#   HUSK_KERNEL_OUT       out dir: kernel.log (full go test -v log), console.log
#                         (guest kernel console), output.log (default tests/kernel/out)
#   HUSK_KERNEL_TIMEOUT   seconds for boot + tests (default 1800)
#   HUSK_KERNEL_CGROUP    the guest's cgroups: v2 (default) or hybrid (v1
#                         controllers and an empty cgroup2, as the CI machine)
#   VMLANE_CACHE          kernel/initramfs cache (default ${XDG_CACHE_HOME:-~/.cache}/husk-vmlane)
#   HUSK_KERNEL_NO_APT=1  never call apt-get install (fail if something is missing)
#   other VMLANE_* variables are passed through to vmlane.sh
#
# Output: the go test result lines (streamed from the guest), then
# "N passed, N failed, N skipped" and the wall time. Exit status: 0 only if the
# tests passed; 125 if the guest crashed twice (the lane retries a crash once).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
T0=$(date +%s.%N)
log() { echo "kernel-lane: $*" >&2; }
die() { log "$*"; exit 2; }

RUNTIME=${RUNTIME:-$REPO/husk}
[ -e "$RUNTIME" ] || die "runtime '$RUNTIME' not found (run make, or set RUNTIME)"
RUNTIME=$(realpath "$RUNTIME")
[ -f "$RUNTIME" ] && [ -x "$RUNTIME" ] || die "runtime '$RUNTIME' is not an executable file"
PKG=${HUSK_KERNEL_PKG:-./tests/integration}
RUNPAT=${HUSK_KERNEL_RUN:-^TestKernel}
OUT=${HUSK_KERNEL_OUT:-$HERE/out}
TMO=${HUSK_KERNEL_TIMEOUT:-1800}
[ "$(id -u)" = 0 ] || die "must run as root (apt, qemu's 9p share with the guest's root)"

# ------------------------------------------------------------ host packages
# command -> Debian package; installed only when missing.
need=(qemu-system-x86_64:qemu-system-x86 cpio:cpio depmod:kmod xz:xz-utils busybox:busybox-static
	runc:runc criu:criu xtables-legacy-multi:iptables ip:iproute2 flock:util-linux jq:jq
	podman:podman conmon:conmon systemctl:systemd)
missing=()
for n in "${need[@]}"; do
	c=${n%%:*} p=${n#*:}
	PATH=$PATH:/usr/sbin:/sbin command -v "$c" >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	[ -z "${HUSK_KERNEL_NO_APT:-}" ] || die "missing packages: ${missing[*]}"
	log "installing: ${missing[*]}"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
export PATH=$PATH:/usr/sbin:/sbin
[ -e /bin/busybox ] || die "vmlane needs /bin/busybox (busybox-static)"
# dynamic: ldd lists libraries ("x => /path"); static/static-pie: it does not
is_dynamic() { ldd "$1" 2>/dev/null | grep -q '=> /'; }

# ------------------------------------------------------------ payload
WORK=$(mktemp -d /tmp/husk-kernel-lane.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
P=$WORK/payload
mkdir -p "$P"
log "building the test binary from $PKG"
# a directory (relative to the cwd or the repo) is built from inside, so a
# package with its own go.mod works too; anything else is an import path.
PKGDIR=
if [ -d "$PKG" ]; then PKGDIR=$(cd "$PKG" && pwd); elif [ -d "$REPO/$PKG" ]; then PKGDIR=$(cd "$REPO/$PKG" && pwd); fi
if [ -n "$PKGDIR" ]; then
	(cd "$PKGDIR" && CGO_ENABLED=0 go test -c -o "$P/kernel.test" .)
else
	(cd "$REPO" && CGO_ENABLED=0 go test -c -o "$P/kernel.test" "$PKG")
fi
[ -x "$P/kernel.test" ] || die "go test -c built nothing for $PKG (no test files?)"
RTNAME=$(basename "$RUNTIME")
cp "$RUNTIME" "$P/$RTNAME"
VMARGS=(-o "$OUT" -t "$TMO" -e HUSK_KERNEL_LANE=1 -e "HUSK_RUNTIME=/payload/$RTNAME")
# podman + conmon (with their libraries) for TestKernelPodman*: podman
# checkpoint/restore with the runtime under test
VMARGS+=(-b "$(command -v podman)" -b "$(command -v conmon)")
if is_dynamic "$RUNTIME"; then
	rtkind=dynamic; VMARGS+=(-L "$RUNTIME")    # its libraries go into the guest too
else
	rtkind=static
fi
log "runtime $RUNTIME ($rtkind) -> /payload/$RTNAME; payload $(du -sh "$P" | cut -f1)"
# TestKernelSystemd starts a systemd of its own in the guest: systemd and
# systemctl with their libraries (-b, at their merged-/usr paths), and
# util-linux nsenter, which can enter a cgroup namespace (busybox's cannot).
SD=$(realpath /lib/systemd/systemd)
VMARGS+=(-b "$SD" -b "$(realpath "$(command -v systemctl)")" -L "$(command -v nsenter)" -e HUSK_NSENTER=/payload/nsenter)
cp "$(realpath "$(command -v nsenter)")" "$P/nsenter"

# ------------------------------------------------------------ boot once
# The guest streams only the result lines live over the (slow, ~100 KB/s)
# serial port; the full -test.v log goes to /out/kernel.log over 9p (fast).
# busybox sh has no PIPESTATUS: the status goes through a file.
GUEST_CMD='{ ./kernel.test -test.v -test.run "$HUSK_KERNEL_RUN" -test.parallel 2 -test.count "$HUSK_KERNEL_COUNT" -test.timeout "$HUSK_KERNEL_TEST_TIMEOUT" 2>&1; echo $? > /tmp/kernel-test.rc; } |
  tee /out/kernel.log |
  awk '\''/^ *--- (PASS|FAIL|SKIP)|^(PASS|FAIL)$|^panic:|no tests to run/ { print; fflush() }'\''
  exit $(cat /tmp/kernel-test.rc)'
VMARGS+=(-e "HUSK_KERNEL_RUN=$RUNPAT" -e "HUSK_KERNEL_COUNT=${HUSK_KERNEL_COUNT:-1}" -e "HUSK_KERNEL_TEST_TIMEOUT=$((TMO > 300 ? TMO - 120 : TMO - 30))s")
# The guest's cgroup layout (vmlane.sh's VMLANE_CGROUP): v2, or hybrid.
VMARGS+=(-e "VMLANE_CGROUP=${HUSK_KERNEL_CGROUP:-v2}")

mkdir -p "$OUT"
rm -f "$OUT"/{kernel,console,output}{,.1}.log "$OUT/kernel.json"   # only our files: OUT may be shared
attempt=1
while :; do
	set +e
	"$HERE/vmlane.sh" "${VMARGS[@]}" "$P" "$GUEST_CMD"
	rc=$?
	set -e
	[ "$rc" = 125 ] && [ "$attempt" = 1 ] || break
	log "the guest died without an exit status (kernel Oops/panic?): retrying once; first console kept as $OUT/console.1.log"
	for f in console output kernel; do [ -e "$OUT/$f.log" ] && mv "$OUT/$f.log" "$OUT/$f.1.log"; done
	attempt=2
done

# ------------------------------------------------------------ summary
LOGF=$OUT/kernel.log
pass=0 fail=0 skip=0
if [ -s "$LOGF" ]; then
	pass=$(grep -cE '^\s*--- PASS' "$LOGF" || true)
	fail=$(grep -cE '^\s*--- FAIL' "$LOGF" || true)
	skip=$(grep -cE '^\s*--- SKIP' "$LOGF" || true)
	# what the failed and skipped tests printed, attributed by test2json
	# (parallel tests interleave their -test.v output)
	if [ $((fail + skip)) -gt 0 ] && go tool test2json <"$LOGF" >"$OUT/kernel.json" 2>/dev/null; then
		for act in fail skip; do
			names=$(jq -r --arg a "$act" 'select(.Action == $a and .Test != null) | .Test' "$OUT/kernel.json")
			[ -n "$names" ] || continue
			[ $act = fail ] && echo "failed tests, with their output:" || echo "skipped tests, with their reasons:"
			while IFS= read -r name; do
				jq -rj --arg n "$name" 'select(.Action == "output" and .Test == $n)
					| select(.Output | test("^\\s*(=== (RUN|PAUSE|CONT|NAME)|--- (PASS|FAIL|SKIP))") | not) | .Output' \
					"$OUT/kernel.json" | sed "s/^/  /; 1i\\  $name:"
			done <<<"$names"
		done
	fi
fi
wall=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.0f", b-a}')
echo "$pass passed, $fail failed, $skip skipped"
echo "kernel lane: wall ${wall}s (attempts: $attempt, guest rc $rc), logs in $OUT"
if [ "$rc" = 0 ] && [ $((pass + fail + skip)) = 0 ]; then
	log "no test matched $RUNPAT in $PKG: failing (a lane that runs nothing must not pass)"
	exit 1
fi
case $rc in
	0) ;;
	124) log "TIMEOUT after ${TMO}s (see $OUT/console.log)" ;;
	125) log "the guest crashed twice (see $OUT/console.log, $OUT/console.1.log)" ;;
	*) [ "$fail" -gt 0 ] || log "test binary exited $rc without a --- FAIL line (build/panic/TestMain?): see $LOGF" ;;
esac
exit "$rc"
