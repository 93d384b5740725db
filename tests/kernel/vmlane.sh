#!/bin/bash
# vmlane.sh - run a command inside a real Debian kernel booted under qemu TCG
# (no KVM needed), with cgroup v2 (all controllers), AppArmor, CRIU, runc,
# seccomp and user namespaces available. husk's kernel lane (tests/kernel/run.sh,
# `make test-kernel`) boots it once for all TestKernel* tests; see README.md here.
#
# Usage:
#   vmlane.sh [options] PAYLOAD_DIR CMD [ARGS...]
#
# PAYLOAD_DIR is copied into the guest at /payload (cwd of CMD). CMD runs via
# /bin/sh -c in the guest as root; its stdout+stderr stream to this script's
# stdout (through a second serial port, kept apart from kernel messages), and
# its exit status becomes this script's exit status.
#
# Options:
#   -c DIR   cache dir for kernel, base initramfs (default: $VMLANE_CACHE or
#            ${XDG_CACHE_HOME:-$HOME/.cache}/husk-vmlane). Built on first use
#            (needs apt to reach Debian); about 0.5 GB.
#   -k PKG   kernel package (default: linux-image-amd64 = bookworm 6.1).
#            e.g. linux-image-amd64/bookworm-backports (6.12)
#   -m MiB   guest memory (default 2048)
#   -s N     vCPUs (default 2)
#   -t SECS  timeout for the whole boot+run (default 3600)
#   -o DIR   write console.log (kernel console) and output.log (CMD output)
#            here and share DIR read-write into the guest at /out via 9p
#            (default: a temp dir under the cache, not shared)
#   -b PATH  extra host binary to copy into the guest, at the same absolute
#            path, with its shared libs (repeatable; copied fresh each run),
#            e.g. -b /usr/bin/jq. The base already has libc and libseccomp.
#   -L PATH  copy only the shared libs of host binary PATH into the guest (for a
#            dynamically linked binary that itself goes into PAYLOAD_DIR);
#            nothing for a static binary (repeatable)
#   -e K=V   environment variable for CMD (repeatable)
#   -r       rebuild the base initramfs even if cached
#
# Environment: VMLANE_CACHE (as -c), VMLANE_CGROUP (v2, the default: cgroup v2
# alone with every controller; hybrid: v1 controllers plus an empty cgroup2
# at /sys/fs/cgroup/unified, as on the CI machine; pass it with -e), VMLANE_CPU (qemu -cpu model, default
# max,-erms,-fsrm: rep-movsb is slow under TCG), VMLANE_ACCEL (default
# tcg,thread=multi), VMLANE_QEMU_ARGS (extra qemu arguments), VMLANE_APPEND (extra kernel
# command line).
#
# Exit status: CMD's status; 124 on timeout; 125 if the guest died without
# reporting one (kernel panic, Oops, init failure): see console.log. A 125 can
# be a rare qemu TCG race (guest Oops): callers retry once.
#
# Host needs: qemu-system-x86 cpio kmod xz-utils busybox-static runc criu
# iptables iproute2
# (and apt access for the first run: kernel + apparmor .debs are downloaded
# with `apt-get download`, never installed).
set -euo pipefail

CACHE=${VMLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/husk-vmlane}
KPKG=linux-image-amd64
MEM=2048
SMP=2
TIMEOUT=3600
OUTDIR=
EXTRA_BINS=()
LIBS_OF=()
ENVS=()
REBUILD=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 2; }
while getopts "c:k:m:s:t:o:b:L:e:rh" opt; do
  case $opt in
    c) CACHE=$OPTARG ;;
    k) KPKG=$OPTARG ;;
    m) MEM=$OPTARG ;;
    s) SMP=$OPTARG ;;
    t) TIMEOUT=$OPTARG ;;
    o) OUTDIR=$OPTARG ;;
    b) EXTRA_BINS+=("$OPTARG") ;;
    L) LIBS_OF+=("$OPTARG") ;;
    e) ENVS+=("$OPTARG") ;;
    r) REBUILD=1 ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || usage
PAYLOAD=$1; shift
CMD="$*"
[ -d "$PAYLOAD" ] || { echo "vmlane: payload dir $PAYLOAD not found" >&2; exit 2; }

log() { echo "vmlane: $*" >&2; }
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)

# ---------------------------------------------------------------- kernel ----
# Resolve the meta package to the concrete image package, download, extract.
kernel_prepare() {
  local pkg=$KPKG real key
  key=$CACHE/kernel/resolved-$(echo "$pkg" | tr '/' '_')
  real=$(cat "$key" 2>/dev/null || true)   # apt-cache takes seconds: cache it
  if [ -z "$real" ] || [ ! -e "$CACHE/kernel/$real/.done" ]; then
    real=$(apt-cache depends "$pkg" 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
    [ -n "$real" ] || real=${pkg%%/*}
    mkdir -p "$CACHE/kernel"; echo "$real" > "$key"
  fi
  KDIR=$CACHE/kernel/$real
  if [ ! -e "$KDIR/.done" ]; then
    log "downloading $real"
    rm -rf "$KDIR"; mkdir -p "$KDIR/deb"
    apt_download "$KDIR/deb" "$real"
    dpkg -x "$KDIR"/deb/*.deb "$KDIR/root"
    rm -rf "$KDIR/deb"
    local kv
    kv=$(ls "$KDIR/root/lib/modules" | head -1)
    # Decompress modules (busybox modprobe cannot read .ko.xz/.ko.zst).
    find "$KDIR/root/lib/modules/$kv" -name '*.ko.xz' -exec xz -d {} +
    find "$KDIR/root/lib/modules/$kv" -name '*.ko.zst' -exec zstd -q -d --rm {} + 2>/dev/null || true
    depmod -b "$KDIR/root" "$kv"
    # Uncompressed vmlinux: qemu boots it via PVH, skipping firmware +
    # in-guest decompression (~3.5 s under TCG for an xz bzImage).
    extract_vmlinux "$KDIR/root/boot/vmlinuz-$kv" > "$KDIR/vmlinux"
    echo "$kv" > "$KDIR/kver"
    touch "$KDIR/.done"
  fi
  KVER=$(cat "$KDIR/kver")
}

# apt_download DIR PKG: `apt-get download` PKG into DIR (nothing is installed);
# refreshes stale package lists once if the download fails.
apt_download() {
  local try
  for try in 1 2; do
    (cd "$1" && apt-get download -qq "$2" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
    ls "$1"/*.deb >/dev/null 2>&1 && return 0
    [ "$try" = 1 ] && { log "apt-get download $2 failed; running apt-get update"; apt-get update -qq >&2 || true; }
  done
  log "cannot download $2 with apt"; return 1
}

extract_vmlinux() {  # like linux/scripts/extract-vmlinux
  local img=$1 tmp
  tmp=$(mktemp)
  try() {
    local off
    for off in $(LC_ALL=C grep -obUaP "$1" "$img" | cut -d: -f1); do
      tail -c +$((off + 1)) "$img" | $2 > "$tmp" 2>/dev/null || true
      if [ "$(head -c 4 "$tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then cat "$tmp"; rm -f "$tmp"; return 0; fi
    done
    return 1
  }
  try '\xFD7zXZ\x00' 'xz -dc' || try '\x28\xb5\x2f\xfd' 'zstd -dc' || try '\x1f\x8b\x08' 'gzip -dc' ||
    { rm -f "$tmp"; log "cannot extract vmlinux from $img"; return 1; }
}

apparmor_prepare() {
  AADIR=$CACHE/apparmor
  if [ ! -x "$AADIR/root/sbin/apparmor_parser" ]; then
    rm -rf "$AADIR"; mkdir -p "$AADIR/deb"
    apt_download "$AADIR/deb" apparmor
    dpkg -x "$AADIR"/deb/*.deb "$AADIR/root"
  fi
}

# ------------------------------------------------------------- base cpio ----
copy_with_libs() {  # copy_with_libs ROOT SRC [DEST]
  local root=$1 src=$2 dest=${3:-$2}
  mkdir -p "$root/$(dirname "$dest")"
  rm -f "$root/$dest"   # may be a busybox applet symlink
  cp -L "$src" "$root/$dest"
  copy_libs "$root" "$src"
}

copy_libs() {  # copy_libs ROOT SRC: SRC's shared libraries (none if static)
  local root=$1 src=$2 lib
  for lib in $(ldd "$src" 2>/dev/null | awk '/=> \//{print $3} /^\t\/lib/{print $1}'); do
    # resolve the directory only (merged /usr: /lib/x86_64-linux-gnu -> /usr/lib/...);
    # keep the soname (libfoo.so.1), which the loader looks for
    lib=$(realpath "$(dirname "$lib")")/$(basename "$lib")
    [ -e "$root$lib" ] && continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

# Modules the runtime tests may need (kernel autoloads them on demand through
# busybox modprobe; e.g. CRIU needs nf_conntrack_netlink to dump a netns).
MODULES="unix_diag inet_diag tcp_diag udp_diag raw_diag af_packet_diag netlink_diag
veth dummy macvlan ipvlan vxlan bridge tun overlay fuse 9p 9pnet_virtio virtio_pci virtio_console"
MODULE_DIRS="net/netfilter net/ipv4/netfilter net/ipv6/netfilter net/sched net/bridge"

base_prepare() {
  BASE=$CACHE/base-$KVER.cpio
  local stamp="$KPKG|$KVER|$(sha1sum "${BASH_SOURCE[0]}" | cut -c1-12)"
  if [ "$REBUILD" = 0 ] && [ -e "$BASE" ] && [ "$(cat "$BASE.stamp" 2>/dev/null)" = "$stamp" ]; then return; fi
  log "building base initramfs for $KVER"
  local R=$CACHE/base-root
  rm -rf "$R"; mkdir -p "$R"/{usr/bin,usr/sbin,usr/lib,usr/lib64,etc,proc,sys,dev,tmp,run,root,var/lib,newroot,payload,out,vmlane}
  # merged-/usr layout like Debian, so compiled-in /usr/lib/... paths work
  local d; for d in bin sbin lib lib64; do ln -s usr/$d "$R/$d"; done
  ln -s ../run "$R/var/run"
  cp /bin/busybox "$R/bin/busybox"
  local l
  for l in $("$R/bin/busybox" --list-full); do
    [ -e "$R/$l" ] || ln -s /bin/busybox "$R/$l"
  done
  copy_with_libs "$R" "$(command -v runc)" /usr/sbin/runc
  copy_with_libs "$R" "$(command -v criu)" /usr/sbin/criu
  copy_with_libs "$R" "$AADIR/root/sbin/apparmor_parser" /sbin/apparmor_parser
  # CRIU shells out to ip/iptables(-save|-restore) to dump/lock a network
  # namespace (every runc-style container has one): legacy iptables + iproute2.
  copy_with_libs "$R" "$(command -v ip)" /sbin/ip
  copy_with_libs "$R" "$(command -v xtables-legacy-multi)" /sbin/xtables-legacy-multi
  for l in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -sf xtables-legacy-multi "$R/sbin/$l"
  done
  local xt
  xt=$(dirname "$(realpath "$(ldd "$(command -v xtables-legacy-multi)" | awk '/libxtables/{print $3}')")")/xtables
  [ -d "$xt" ] && { mkdir -p "$R$xt"; cp -a "$xt/." "$R$xt/"; }
  # ... and GNU tar + gzip to dump/restore tmpfs mounts (e.g. /dev, /dev/shm)
  copy_with_libs "$R" "$(command -v tar)" /usr/bin/tar
  copy_with_libs "$R" "$(command -v gzip)" /usr/bin/gzip
  # kernel modules (+deps) and their index
  local m mods
  local kmd=$KDIR/root/lib/modules/$KVER
  mods=$(modprobe -d "$KDIR/root" -S "$KVER" -a --show-depends $MODULES \
      $(for d in $MODULE_DIRS; do find "$kmd/kernel/$d" -name '*.ko' -printf '%f\n' | sed 's/\.ko$//'; done) 2>/dev/null |
    awk '$1=="insmod"{print $2}' | sort -u)
  local dst
  for m in $mods; do
    dst=$R${m#"$KDIR/root"}; mkdir -p "$(dirname "$dst")"; cp "$m" "$dst"
  done
  cp "$KDIR/root/lib/modules/$KVER"/modules.{order,builtin,builtin.modinfo} "$R/lib/modules/$KVER/" 2>/dev/null || true
  depmod -b "$R" "$KVER"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$R/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$R/etc/group"
  printf '127.0.0.1 localhost vmlane\n' > "$R/etc/hosts"
  : > "$R/etc/fstab"
  write_init > "$R/init"; chmod 755 "$R/init"
  (cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$BASE.tmp"
  mv "$BASE.tmp" "$BASE"; echo "$stamp" > "$BASE.stamp"
  rm -rf "$R"
}

write_init() {
cat <<'INIT'
#!/bin/sh
# vmlane guest init
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
if [ -z "$VMLANE_STAGE2" ]; then
  # Stage 1: the initramfs ("rootfs") cannot be pivot_root'ed away from, which
  # runc/our runtime need. Re-root onto a bind mount of it (no copy): the new
  # root has a parent mount, so pivot_root(2) works inside containers.
  mount --bind / /newroot && cd /newroot && mount --move . / && exec env VMLANE_STAGE2=1 chroot . /init
  echo "vmlane: re-root failed" > /dev/console
fi
mount -t proc proc /proc
echo "VMLANE-INIT $(cut -d' ' -f1 /proc/uptime)" > /dev/console
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t mqueue mqueue /dev/mqueue
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
mount -t securityfs securityfs /sys/kernel/security
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
ln -sf /proc/self/fd /dev/fd; ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout; ln -sf /proc/self/fd/2 /dev/stderr
echo /sbin/modprobe > /proc/sys/kernel/modprobe
hostname vmlane; ip link set lo up
. /vmlane/env
if [ "${VMLANE_CGROUP:-v2}" = hybrid ]; then
  # As a systemd host in "hybrid" mode (and the CI machine): v1 controllers
  # in a tmpfs, name=systemd, and an empty cgroup2 at unified/.
  mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
  for h in cpuset cpu,cpuacct blkio memory devices freezer net_cls,net_prio perf_event hugetlb pids rdma misc; do
    mkdir /sys/fs/cgroup/$h
    mount -t cgroup -o $h cgroup /sys/fs/cgroup/$h 2>/dev/null || rmdir /sys/fs/cgroup/$h
  done
  ln -s cpu,cpuacct /sys/fs/cgroup/cpu; ln -s cpu,cpuacct /sys/fs/cgroup/cpuacct
  mkdir /sys/fs/cgroup/systemd /sys/fs/cgroup/unified
  mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
  mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup/unified
else
  mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
fi
stty -F /dev/ttyS1 raw -echo 2>/dev/null
if [ -n "$VMLANE_OUT9P" ]; then
  modprobe -q virtio_pci; modprobe -q 9pnet_virtio; modprobe -q 9p
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 vmlaneout /out ||
    echo "vmlane: 9p mount of /out failed" > /dev/ttyS1
fi
for m in unix_diag inet_diag tcp_diag udp_diag af_packet_diag netlink_diag tun; do modprobe -q $m; done
echo "VMLANE-START $(cut -d' ' -f1 /proc/uptime)" > /dev/console
cd /payload
# stdout/stderr are a pipe (as in CI), not the serial tty
{ /bin/sh -c "$(cat /vmlane/cmd)" < /dev/null 2>&1; echo $? > /run/vmlane-rc; } | cat > /dev/ttyS1
read rc < /run/vmlane-rc
cd /
echo "VMLANE-END $(cut -d' ' -f1 /proc/uptime)" > /dev/console
printf '\n%s %d\n' "VMLANE-EXIT-$VMLANE_NONCE" "$rc" > /dev/ttyS1
sync
[ -n "$VMLANE_OUT9P" ] && umount /out
poweroff -f
INIT
}

# ------------------------------------------------------------------- run ----
# one builder at a time per cache (parallel lanes share it)
exec 9>"$CACHE/.lock"
flock 9
kernel_prepare
apparmor_prepare
base_prepare
flock -u 9; exec 9>&-

RUN=$(mktemp -d "$CACHE/run.XXXXXX")
cleanup() { rm -rf "$RUN"; }
trap cleanup EXIT
SHARE=0
if [ -n "$OUTDIR" ]; then mkdir -p "$OUTDIR"; OUTDIR=$(cd "$OUTDIR" && pwd); SHARE=1; else OUTDIR=$RUN/out; mkdir -p "$OUTDIR"; fi
NONCE=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')

# payload cpio: PAYLOAD_DIR -> /payload, command + env -> /vmlane
mkdir -p "$RUN/p/vmlane"
cp -al "$PAYLOAD" "$RUN/p/payload" 2>/dev/null || { rm -rf "$RUN/p/payload"; cp -a "$PAYLOAD" "$RUN/p/payload"; }
for b in "${EXTRA_BINS[@]}"; do   # fresh every run, so a rebuilt binary is never stale
  case $(realpath -s "$b") in
    /tmp/*|/run/*|/dev/*|/proc/*|/sys/*|/payload/*|/out/*)
      log "-b $b: the guest mounts over that path; put it in PAYLOAD_DIR instead"; exit 2 ;;
  esac
  copy_with_libs "$RUN/p" "$(realpath "$b")" "$(realpath -s "$b")"
done
for b in "${LIBS_OF[@]}"; do copy_libs "$RUN/p" "$(realpath "$b")"; done
printf '%s\n' "$CMD" > "$RUN/p/vmlane/cmd"
{
  printf 'VMLANE_NONCE=%s\nVMLANE_OUT9P=%s\n' "$NONCE" "$([ $SHARE = 1 ] && echo 1)"
  for kv in "${ENVS[@]}"; do printf 'export %q\n' "$kv"; done
} > "$RUN/p/vmlane/env"
(cd "$RUN/p" && find . | cpio -o -H newc -R 0:0 --quiet) > "$RUN/payload.cpio"
cat "$BASE" "$RUN/payload.cpio" > "$RUN/initrd"
rm -rf "$RUN/p" "$RUN/payload.cpio"

QEMU_ARGS=(
  -accel "${VMLANE_ACCEL:-tcg,thread=multi}" -cpu "${VMLANE_CPU:-max,-erms,-fsrm}" -smp "$SMP" -m "$MEM"
  -display none -monitor none -no-reboot -nic none
  -kernel "$KDIR/vmlinux" -initrd "$RUN/initrd"
  -append "console=ttyS0 quiet loglevel=4 panic=-1 oops=panic no5lvl mitigations=off random.trust_cpu=on ${VMLANE_APPEND:-}"
  -serial "file:$OUTDIR/console.log"
  -chardev stdio,id=out,signal=off -serial chardev:out
)
# shellcheck disable=SC2206  # VMLANE_QEMU_ARGS: extra qemu args, word-split on purpose
QEMU_ARGS+=(${VMLANE_QEMU_ARGS:-})
[ $SHARE = 1 ] && QEMU_ARGS+=(-virtfs "local,path=$OUTDIR,mount_tag=vmlaneout,security_model=none,id=vmlaneout")

log "booting $KVER (tcg, ${SMP} vCPU, ${MEM} MiB); output follows"
t0=$(date +%s.%N)
set +e
timeout -k 10 "$TIMEOUT" qemu-system-x86_64 "${QEMU_ARGS[@]}" < /dev/null | tee "$OUTDIR/output.log" | grep -av "^VMLANE-EXIT-$NONCE "
qrc=${PIPESTATUS[0]}
set -e
t1=$(date +%s.%N)
rc=$(grep -a "^VMLANE-EXIT-$NONCE " "$OUTDIR/output.log" | tail -1 | awk '{print $2}' | tr -d '\r' || true)
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  log "TIMEOUT after ${TIMEOUT}s; console tail:"; tail -20 "$OUTDIR/console.log" >&2; exit 124
fi
if [ -z "$rc" ]; then
  log "guest gave no exit status (qemu rc=$qrc); console tail:"; tail -30 "$OUTDIR/console.log" >&2; exit 125
fi
log "guest exit status $rc, wall ${wall}s ($(grep -a -o 'VMLANE-[A-Z]* [0-9.]*' "$OUTDIR/console.log" | tr '\n' ' '))"
exit "$rc"
