#!/usr/bin/env bash
# runtime-bench.sh -- husk's benchmark: performance of an OCI runtime (the
# candidate, normally ./husk) against a reference runtime (normally runc),
# measured in the same run, interleaved (A B B A ...), as medians and
# candidate/reference ratios. `make bench` runs it through tests/bench/bench.sh,
# which installs its dependencies, keeps the output and compares the ratios
# with husk's design targets.
#
# usage: runtime-bench.sh CANDIDATE_BINARY [REFERENCE_BINARY]
#        (reference defaults to /usr/sbin/runc; run as root)
#
# What it measures (one busybox bundle built from $BENCH_BUSYBOX in a temp dir,
# config equal to `runc spec` with terminal=false; each runtime gets its own
# --root state dir and container-id prefix):
#   run_ms / run_delete_ms   `run` of /bin/true to completion (+ `delete -f`)
#   create_ms start_ms delete_ms lifecycle_ms
#                            create -> start -> wait for exit -> delete, separate calls
#   exec_ms                  `exec` of /bin/true into a running container
#   run_detached_ms          `run -d` while the container count grows to $BENCH_CONTAINERS
#                            (create_bg_ms with BENCH_STATELIST_STATE=created)
#   state_ms list_ms         with $BENCH_CONTAINERS containers running (or created)
#   delete_running_ms        `delete -f` of each of them
#   peak_rss_kb              max RSS of the largest runtime process during `run`
#                            (/usr/bin/time %M; covers the runtime and the
#                            descendants it waits for)
#   cgroup_peak_kb           peak memory charged to a cgroup holding the runtime
#                            and (nested, via cgroupsPath) the container during `run`
#   binary_size_kb           size of the binary file (reported, not counted below)
#   throughput_per_s         containers run to completion per second, $BENCH_PAR in parallel
# Optional floor (comment lines): the same /bin/true started by busybox
# unshare+chroot with the config's five namespaces, interleaved with the above.
#
# Output on stdout: '#' header lines, then one line per metric
#     metric candidate_median reference_median ratio
# (ratio = candidate/reference; FAIL when a call failed, NA when not measured),
# and as the final line
#     worst_ratio <x> <metric> ...
# where x is the largest slowdown of the candidate over all timing/memory
# metrics: the ratio for lower-is-better metrics, 1/ratio for throughput
# (`worst_ratio FAIL <metrics> ...` when candidate calls failed, and
# `worst_ratio FAIL sanity_run` when a runtime cannot run the bundle at all).
# Progress goes to stderr. Exit status: 0 ok, 1 some metric FAILed, 2 setup
# error (including the sanity run).
#
# Environment knobs (defaults in brackets):
#   BENCH_N [50]               samples per latency metric and runtime
#   BENCH_WARMUP [3]           unrecorded warm-up iterations per section
#   BENCH_CONTAINERS [100]     containers alive for state/list
#   BENCH_STATELIST_STATE [running]  running | created: state of those containers
#   BENCH_MEM_N [10]           samples for the memory metrics
#   BENCH_PAR [2]              parallel workers for throughput
#   BENCH_THRU_ROUNDS [5]      throughput rounds per runtime
#   BENCH_THRU_PER_WORKER [10] containers per worker per round
#   BENCH_SECTIONS [run,lifecycle,exec,statelist,memory,throughput,floor]
#   BENCH_CALL_TIMEOUT [60]    seconds before a hung runtime call is killed (a
#                              watchdog; processes inside a container's pid
#                              namespace, e.g. a created container's init, are
#                              not runtime calls and are left alone)
#   BENCH_BUSYBOX [/usr/bin/busybox]  static busybox for the rootfs
#   BENCH_TIME [/usr/bin/time] GNU time, for peak_rss_kb
#   BENCH_MASK_HYBRID [auto]   auto|1|0: on a hybrid cgroup host whose cgroup2
#                              mount (/sys/fs/cgroup/unified) has controllers,
#                              run everything in a private mount namespace with
#                              an empty file bound over its cgroup.controllers,
#                              for both runtimes alike (crun refuses such hosts)
#   BENCH_ID_PREFIX [rtbench<pid>]  prefix of container ids and cgroup names
#   BENCH_KEEP [0]             1: keep the work dir (runtime log) afterwards
#   TMPDIR [/tmp]              where the work dir is created
#
# Everything the script creates (containers, cgroups, mounts, temp dir) is
# removed on exit, also on failure or interrupt.

# functions run from traps and subshells look unreachable to shellcheck
# shellcheck disable=SC2317
set -u -o pipefail
export LC_ALL=C   # EPOCHREALTIME must use '.' as decimal separator

N=${BENCH_N:-50}
WARMUP=${BENCH_WARMUP:-3}
NCONT=${BENCH_CONTAINERS:-100}
SL_STATE=${BENCH_STATELIST_STATE:-running}
MEM_N=${BENCH_MEM_N:-10}
PAR=${BENCH_PAR:-2}
THRU_ROUNDS=${BENCH_THRU_ROUNDS:-5}
THRU_PER_WORKER=${BENCH_THRU_PER_WORKER:-10}
SECTIONS=${BENCH_SECTIONS:-run,lifecycle,exec,statelist,memory,throughput,floor}
CALL_TIMEOUT=${BENCH_CALL_TIMEOUT:-60}
BUSYBOX=${BENCH_BUSYBOX:-/usr/bin/busybox}
TIME_BIN=${BENCH_TIME:-/usr/bin/time}
MASK_HYBRID=${BENCH_MASK_HYBRID:-auto}
KEEP=${BENCH_KEEP:-0}

note() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'runtime-bench: %s\n' "$*" >&2; exit 2; }
usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0" >&2; }

# --- stage 0: re-exec under a child subreaper (and, if needed, a private mount
# namespace with the hybrid-cgroup mask); the pid stays the same throughout.
hybrid_with_v2_controllers() {
    [[ $(stat -f -c %T /sys/fs/cgroup 2>/dev/null) == tmpfs ]] || return 1
    [[ $(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null) == cgroup2fs ]] || return 1
    [[ -n $(tr -d ' \n' </sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null) ]]
}

if [[ -z ${_RB_STAGE:-} ]]; then
    if [[ $# -lt 1 || $# -gt 2 || $1 == -h || $1 == --help ]]; then usage; exit 2; fi
    [[ $(id -u) == 0 ]] || die "must run as root"
    ((BASH_VERSINFO[0] >= 5)) || die "needs bash >= 5"
    SELF=$(readlink -f "$0")
    mask=0
    case $MASK_HYBRID in
        0) ;;
        auto|1) hybrid_with_v2_controllers && mask=1 ;;
        *) die "BENCH_MASK_HYBRID must be auto, 1 or 0" ;;
    esac
    wrap=()
    if ((mask)); then
        command -v unshare >/dev/null || die "hybrid mask needs util-linux unshare (or BENCH_MASK_HYBRID=0)"
        wrap=(unshare --mount --propagation private --)
    fi
    sub=none
    if perl -e 'require "syscall.ph"; 1' 2>/dev/null; then
        sub=perl
        # shellcheck disable=SC2016  # perl code, literal on purpose
        wrap+=(perl -e 'require "syscall.ph"; syscall(&SYS_prctl, 36, 1, 0, 0, 0) == 0 or die "prctl: $!\n"; exec { $ARGV[0] } @ARGV or die "exec: $!\n";' --)
    elif command -v python3 >/dev/null; then
        sub=python3
        wrap+=(python3 -c 'import ctypes, os, sys
if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0: sys.exit("prctl failed")
os.execvp(sys.argv[1], sys.argv[1:])')
    fi
    export _RB_STAGE=1 _RB_MASK=$mask _RB_SUBREAPER=$sub _RB_SELF=$SELF
    exec "${wrap[@]}" bash "$SELF" "$@"
fi

# --- stage 1 -----------------------------------------------------------------
MAIN=$$
PREFIX=${BENCH_ID_PREFIX:-rtbench$$}
START_SECONDS=$SECONDS
resolve() { local p; p=$(command -v -- "$1") || return 1; readlink -f -- "$p"; }
CAND=$(resolve "$1") || die "candidate not found: $1"
REF=$(resolve "${2:-/usr/sbin/runc}") || die "reference not found: ${2:-/usr/sbin/runc}"
[[ -x $CAND && -x $REF ]] || die "runtime binaries must be executable"
[[ -x $BUSYBOX ]] || die "busybox not found: $BUSYBOX (set BENCH_BUSYBOX)"
for v in N WARMUP NCONT MEM_N PAR THRU_ROUNDS THRU_PER_WORKER CALL_TIMEOUT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer"
done
((N >= 1 && PAR >= 1 && NCONT >= 1)) || die "BENCH_N, BENCH_PAR and BENCH_CONTAINERS must be >= 1"
[[ $SL_STATE == running || $SL_STATE == created ]] || die "BENCH_STATELIST_STATE must be running or created"

declare -A RT ROOT NAME
RT[c]=$CAND RT[r]=$REF NAME[c]=candidate NAME[r]=reference
WORK=$(mktemp -d "${TMPDIR:-/tmp}/runtime-bench.XXXXXX") || die "mktemp failed"
[[ $WORK == *[\"\\]* ]] && { rmdir "$WORK"; die "TMPDIR must not contain quotes or backslashes (used in config.json)"; }
S=$WORK/samples LOG=$WORK/runtime.log
mkdir -p "$S" "$WORK/root-c" "$WORK/root-r"
ROOT[c]=$WORK/root-c ROOT[r]=$WORK/root-r
: >"$LOG"
MASKED=0 WD_PID='' FAILED=0
WORKER_PIDS=()
CG_MOUNTS=()
MEM_OWN='' MEM_REL='' MEM_MNT='' MEM_PEAKF=''
declare -A CG_PREEXIST

mapfile -t CG_MOUNTS < <(awk '{for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup" || $(i+1) == "cgroup2") print $5; break }}' /proc/self/mountinfo)

rt() { local t=$1; shift; "${RT[$t]}" --root "${ROOT[$t]}" "$@"; }

# remove cgroups whose name starts with our prefix (killing what is left in
# them: processes started by this run through a runtime), then the parent
# directories the nested memory cgroupsPath made runtimes create.
cg_cleanup() {
    local d sub p m
    for d in $(find "${CG_MOUNTS[@]}" -mindepth 1 -maxdepth 8 -type d -name "$PREFIX-*" 2>/dev/null | sort -r); do
        [[ -d $d ]] || continue
        while read -r sub; do
            for _ in 1 2 3 4 5 6 7 8 9 10; do
                rmdir "$sub" 2>/dev/null && break
                while read -r p; do [[ -n $p ]] && kill -KILL "$p" 2>/dev/null; done <"$sub/cgroup.procs" 2>/dev/null
                sleep 0.1
            done
        done < <(find "$d" -depth -type d 2>/dev/null)
    done
    if [[ -n $MEM_OWN ]]; then
        for m in "${CG_MOUNTS[@]}"; do
            p=$MEM_OWN
            while [[ -n $p && $p != / ]]; do
                [[ ${CG_PREEXIST[$m$p]:-1} == 1 ]] && break
                rmdir "$m$p" 2>/dev/null || break
                p=${p%/*}
            done
        done
    fi
}

cleanup() {
    local rc=$? t d id m
    trap - EXIT INT TERM HUP
    [[ -n $WD_PID ]] && kill "$WD_PID" 2>/dev/null
    for d in "${WORKER_PIDS[@]}"; do kill "$d" 2>/dev/null; done
    wait 2>/dev/null
    for t in c r; do
        for d in "${ROOT[$t]}"/*/; do
            [[ -d $d ]] || continue
            id=${d%/}; id=${id##*/}
            rt "$t" kill "$id" KILL </dev/null >/dev/null 2>&1
            rt "$t" delete --force "$id" </dev/null >/dev/null 2>&1
        done
    done
    cg_cleanup
    # mounts a runtime may have left under the work dir (deepest first)
    # shellcheck disable=SC2013  # mountinfo escapes blanks in paths (\040)
    for m in $(awk -v w="$WORK" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
        umount -n -l "$m" 2>/dev/null
    done
    ((MASKED)) && umount -n /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null
    if ((rc != 0)) && [[ -s $LOG ]]; then
        echo "--- last lines of the runtime log ---" >&2
        tail -n 15 "$LOG" >&2
    fi
    if [[ $KEEP == 1 ]]; then
        echo "work dir kept: $WORK" >&2
    else
        rm -rf --one-file-system "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# mount/umount -n: no utab entry, so util-linux creates no /run/mount on hosts
# that do not have it
if ((_RB_MASK)); then
    : >"$WORK/empty-controllers"
    mount -n --bind "$WORK/empty-controllers" /sys/fs/cgroup/unified/cgroup.controllers ||
        die "cannot mask /sys/fs/cgroup/unified/cgroup.controllers"
    MASKED=1
fi

# a fifo nobody writes to: `read -t` on it sleeps without forking
# shellcheck disable=SC2015  # die when either step fails
mkfifo "$WORK/sleep.fifo" && exec {SLEEPFD}<>"$WORK/sleep.fifo" || die "mkfifo failed"
nap() { read -r -t "$1" -u "$SLEEPFD" _; }

# --- bundle ------------------------------------------------------------------
ROOTFS=$WORK/rootfs
mkdir -p "$ROOTFS"/{bin,dev,proc,sys,tmp,etc}
cp "$BUSYBOX" "$ROOTFS/bin/busybox" || die "cannot copy busybox"
for a in sh true sleep cat; do ln -s busybox "$ROOTFS/bin/$a"; done
echo 'root:x:0:0:root:/:/bin/sh' >"$ROOTFS/etc/passwd"
echo 'root:x:0:' >"$ROOTFS/etc/group"

# mk_bundle DIR ARGS_JSON [CGROUPS_PATH]: config equal to `runc spec` output
# (runc 1.1) except terminal=false, the args and an optional cgroupsPath.
mk_bundle() {
    local dir=$1 args=$2 cgp=${3:-}
    mkdir -p "$dir"
    cat >"$dir/config.json" <<EOF
{
  "ociVersion": "1.0.2-dev",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": $args,
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "root": {"path": "$ROOTFS", "readonly": true},
  "hostname": "runc",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
  ],
  "linux": {
    ${cgp:+\"cgroupsPath\": \"$cgp\",}
    "resources": {"devices": [{"allow": false, "access": "rwm"}]},
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
    "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
}
EOF
}
B_TRUE=$WORK/bundle-true B_SLEEP=$WORK/bundle-sleep
mk_bundle "$B_TRUE" '["/bin/true"]'
mk_bundle "$B_SLEEP" '["/bin/sleep", "1000000"]'

# --- samples -----------------------------------------------------------------
# rec METRIC TAG T0 T1: append the elapsed microseconds between two EPOCHREALTIMEs
rec() { echo $((${4/./} - ${3/./})) >>"$S/$1.$2"; }
recv() { echo "$3" >>"$S/$1.$2"; }            # rec a value
fail() { echo "${3:-failed}" >>"$S/$1.$2.fail"; }
ORDER=()
order() { if (($1 % 2)); then ORDER=(r c); else ORDER=(c r); fi; }

median() { # FILE DIVISOR FORMAT
    [[ -s $1 ]] || { echo NA; return; }
    sort -g "$1" | awk -v d="$2" -v f="$3" '{a[NR] = $1}
        END {m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf f "\n", m / d}'
}

WORST=0 WORST_METRIC=none WORST_FAIL=
isnum() { [[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]; }
# emit METRIC KIND DIVISOR FORMAT ; KIND: lower | higher | info (not counted)
emit() {
    local m=$1 kind=$2 div=$3 fmt=$4 c r ratio slow
    c=$(median "$S/$m.c" "$div" "$fmt")
    r=$(median "$S/$m.r" "$div" "$fmt")
    [[ -s $S/$m.c.fail ]] && c=FAIL
    [[ -s $S/$m.r.fail ]] && r=FAIL
    ratio=NA
    if isnum "$c" && isnum "$r" && awk -v r="$r" 'BEGIN {exit !(r > 0)}'; then
        ratio=$(awk -v c="$c" -v r="$r" 'BEGIN {printf "%.2f", c / r}')
    fi
    printf '%-18s %12s %12s %8s\n' "$m" "$c" "$r" "$ratio"
    if [[ $c == FAIL ]]; then
        FAILED=1; WORST_FAIL+="${WORST_FAIL:+,}$m"
    fi
    [[ $r == FAIL ]] && FAILED=1
    if [[ $kind != info && $ratio != NA ]]; then
        slow=$(awk -v x="$ratio" -v k="$kind" 'BEGIN {if (k == "higher") x = (x > 0) ? 1 / x : 999; printf "%.2f", x}')
        if awk -v a="$slow" -v b="$WORST" 'BEGIN {exit !(a > b)}'; then
            WORST=$slow WORST_METRIC=$m
        fi
    fi
}

# wait_exit PID: until the process is gone or a zombie (no runtime call involved)
wait_exit() {
    local pid=$1 line st deadline=$((SECONDS + CALL_TIMEOUT))
    while :; do
        { read -r line <"/proc/$pid/stat"; } 2>/dev/null || return 0
        st=${line##*) }; st=${st%% *}
        [[ $st == Z || $st == X ]] && return 0
        ((SECONDS > deadline)) && return 1
        nap 0.0005
    done
}

# --- watchdog: kill runtime processes started by this script that hang -------
watchdog() {
    local -A seen
    local p line start key now
    local -a f
    while [[ -e /proc/$MAIN ]]; do
        nap 2
        now=$SECONDS
        for p in $(descendants "$MAIN" 3); do
            [[ /proc/$p/exe -ef $CAND || /proc/$p/exe -ef $REF ]] || continue
            # a runtime process in another pid namespace is a container's init
            # (created state, BENCH_STATELIST_STATE=created), not a hung call
            [[ /proc/$p/ns/pid -ef /proc/$MAIN/ns/pid ]] || continue
            { read -r line <"/proc/$p/stat"; } 2>/dev/null || continue
            read -r -a f <<<"${line##*) }"; start=${f[19]}; key=$p:$start
            if [[ -z ${seen[$key]:-} ]]; then
                seen[$key]=$now
            elif ((now - seen[$key] > CALL_TIMEOUT)); then
                kill -KILL "$p" 2>/dev/null &&
                    echo "watchdog: killed runtime call pid $p (running > ${CALL_TIMEOUT}s)" | tee -a "$LOG" >&2
            fi
        done
        for key in "${!seen[@]}"; do [[ -e /proc/${key%%:*} ]] || unset "seen[$key]"; done
    done
}
descendants() { # PID DEPTH
    local kids='' k
    # the children file has no trailing newline: read "fails" but fills kids
    { read -r kids <"/proc/$1/task/$1/children"; } 2>/dev/null
    for k in $kids; do
        echo "$k"
        (($2 > 1)) && descendants "$k" $(($2 - 1))
    done
}
watchdog &
WD_PID=$!

# --- header ------------------------------------------------------------------
cg_mode=v1
[[ $(stat -f -c %T /sys/fs/cgroup 2>/dev/null) == cgroup2fs ]] && cg_mode=v2
[[ $cg_mode == v1 && $(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null) == cgroup2fs ]] && cg_mode=hybrid
ver() { "$1" --version 2>/dev/null | head -n 1; }
echo "# runtime-bench $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "# candidate: $CAND ($(ver "$CAND"))"
echo "# reference: $REF ($(ver "$REF"))"
echo "# host: kernel $(uname -r), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg), cgroup $cg_mode, unified-controllers mask $_RB_MASK, subreaper $_RB_SUBREAPER"
echo "# N=$N warmup=$WARMUP containers=$NCONT($SL_STATE) mem_samples=$MEM_N throughput=${PAR}x${THRU_PER_WORKER}x${THRU_ROUNDS}rounds; interleaved A B B A; medians"
echo "# metric candidate_median reference_median ratio(candidate/reference)"

# --- sanity ------------------------------------------------------------------
for t in r c; do
    rt "$t" run --bundle "$B_TRUE" "$PREFIX-$t-sanity" </dev/null >/dev/null 2>>"$LOG"
    rc=$?
    rt "$t" delete --force "$PREFIX-$t-sanity" </dev/null >/dev/null 2>&1
    if ((rc != 0)); then
        echo "# ${NAME[$t]} ${RT[$t]} cannot run /bin/true in the test bundle (exit $rc)"
        echo "worst_ratio FAIL sanity_run"
        exit 2
    fi
done

has() { [[ ,$SECTIONS, == *,$1,* ]]; }

# --- (a) run to completion + delete -------------------------------------------
sec_run() {
    local i t id t0 t1 t2 rc
    note "(a) run /bin/true (+ delete), N=$N"
    for ((i = -WARMUP; i < N; i++)); do
        order $i
        for t in "${ORDER[@]}"; do
            id=$PREFIX-$t-a$((i + WARMUP))
            t0=$EPOCHREALTIME
            rt "$t" run --bundle "$B_TRUE" "$id" </dev/null >/dev/null 2>>"$LOG"
            rc=$?
            t1=$EPOCHREALTIME
            rt "$t" delete --force "$id" </dev/null >/dev/null 2>>"$LOG"
            t2=$EPOCHREALTIME
            ((i < 0)) && continue
            if ((rc != 0)); then fail run_ms "$t" "rc=$rc"; fail run_delete_ms "$t"; continue; fi
            rec run_ms "$t" "$t0" "$t1"
            rec run_delete_ms "$t" "$t0" "$t2"
        done
    done
    emit run_ms lower 1000 %.2f
    emit run_delete_ms lower 1000 %.2f
}

# --- (b) create -> start -> wait for exit -> delete ----------------------------
sec_lifecycle() {
    local i t id pid t0 t1 t2 t3 t4 pidf=$WORK/lifecycle.pid
    note "(b) create/start/wait/delete /bin/true, N=$N"
    for ((i = -WARMUP; i < N; i++)); do
        order $i
        for t in "${ORDER[@]}"; do
            id=$PREFIX-$t-b$((i + WARMUP))
            rm -f "$pidf"; pid=
            t0=$EPOCHREALTIME
            if ! rt "$t" create --bundle "$B_TRUE" --pid-file "$pidf" "$id" </dev/null >/dev/null 2>>"$LOG"; then
                ((i >= 0)) && for m in create_ms start_ms delete_ms lifecycle_ms; do fail $m "$t"; done
                rt "$t" delete --force "$id" </dev/null >/dev/null 2>>"$LOG"
                continue
            fi
            t1=$EPOCHREALTIME
            read -r pid <"$pidf" 2>/dev/null
            if ! rt "$t" start "$id" </dev/null >/dev/null 2>>"$LOG"; then
                ((i >= 0)) && for m in start_ms delete_ms lifecycle_ms; do fail $m "$t"; done
                rt "$t" delete --force "$id" </dev/null >/dev/null 2>>"$LOG"
                continue
            fi
            t2=$EPOCHREALTIME
            if [[ -z $pid ]] || ! wait_exit "$pid"; then
                ((i >= 0)) && fail lifecycle_ms "$t" "no exit"
            fi
            t3=$EPOCHREALTIME
            if ! rt "$t" delete "$id" </dev/null >/dev/null 2>>"$LOG"; then
                ((i >= 0)) && fail delete_ms "$t"
                rt "$t" delete --force "$id" </dev/null >/dev/null 2>>"$LOG"
            fi
            t4=$EPOCHREALTIME
            ((i < 0)) && continue
            rec create_ms "$t" "$t0" "$t1"
            rec start_ms "$t" "$t1" "$t2"
            rec delete_ms "$t" "$t3" "$t4"
            rec lifecycle_ms "$t" "$t0" "$t4"
        done
    done
    emit create_ms lower 1000 %.2f
    emit start_ms lower 1000 %.2f
    emit delete_ms lower 1000 %.2f
    emit lifecycle_ms lower 1000 %.2f
}

# --- (c) exec into a running container -----------------------------------------
sec_exec() {
    local i t t0 t1 ok=()
    note "(c) exec /bin/true into a running container, N=$N"
    for t in c r; do
        if rt "$t" run --detach --bundle "$B_SLEEP" "$PREFIX-$t-x" </dev/null >/dev/null 2>>"$LOG"; then
            ok+=("$t")
        else
            fail exec_ms "$t" "run -d failed"
        fi
    done
    for ((i = -WARMUP; i < N; i++)); do
        order $i
        for t in "${ORDER[@]}"; do
            [[ " ${ok[*]} " == *" $t "* ]] || continue
            t0=$EPOCHREALTIME
            if rt "$t" exec "$PREFIX-$t-x" /bin/true </dev/null >/dev/null 2>>"$LOG"; then
                t1=$EPOCHREALTIME
                ((i >= 0)) && rec exec_ms "$t" "$t0" "$t1"
            else
                ((i >= 0)) && fail exec_ms "$t"
            fi
        done
    done
    for t in c r; do rt "$t" delete --force "$PREFIX-$t-x" </dev/null >/dev/null 2>>"$LOG"; done
    emit exec_ms lower 1000 %.2f
}

# --- (d) state / list with NCONT containers ------------------------------------
sec_statelist() {
    local k i t t0 t1 cnt mid pm=run_detached_ms
    local -a populate=(run --detach)
    if [[ $SL_STATE == created ]]; then pm=create_bg_ms populate=(create); fi
    note "(d) ${populate[*]} $NCONT sleeping containers per runtime, then state/list, N=$N"
    for ((k = 0; k < NCONT; k++)); do
        order $k
        for t in "${ORDER[@]}"; do
            t0=$EPOCHREALTIME
            if rt "$t" "${populate[@]}" --bundle "$B_SLEEP" "$PREFIX-$t-d$k" </dev/null >/dev/null 2>>"$LOG"; then
                t1=$EPOCHREALTIME
                rec $pm "$t" "$t0" "$t1"
            else
                fail $pm "$t"
            fi
        done
    done
    mid=$((NCONT / 2))
    for t in c r; do
        cnt=$(rt "$t" list 2>>"$LOG" | grep -c -- "^$PREFIX-$t-d")
        ((cnt == NCONT)) || note "warning: ${NAME[$t]} list shows $cnt of $NCONT containers"
    done
    for ((i = -WARMUP; i < N; i++)); do
        order $i
        for t in "${ORDER[@]}"; do
            t0=$EPOCHREALTIME
            if rt "$t" state "$PREFIX-$t-d$mid" </dev/null >/dev/null 2>>"$LOG"; then
                t1=$EPOCHREALTIME; ((i >= 0)) && rec state_ms "$t" "$t0" "$t1"
            else
                ((i >= 0)) && fail state_ms "$t"
            fi
        done
        for t in "${ORDER[@]}"; do
            t0=$EPOCHREALTIME
            if rt "$t" list </dev/null >/dev/null 2>>"$LOG"; then
                t1=$EPOCHREALTIME; ((i >= 0)) && rec list_ms "$t" "$t0" "$t1"
            else
                ((i >= 0)) && fail list_ms "$t"
            fi
        done
    done
    note "    deleting the $NCONT containers per runtime"
    for ((k = 0; k < NCONT; k++)); do
        order $k
        for t in "${ORDER[@]}"; do
            t0=$EPOCHREALTIME
            if rt "$t" delete --force "$PREFIX-$t-d$k" </dev/null >/dev/null 2>>"$LOG"; then
                t1=$EPOCHREALTIME; rec delete_running_ms "$t" "$t0" "$t1"
            else
                fail delete_running_ms "$t"
            fi
        done
    done
    emit $pm lower 1000 %.2f
    emit state_ms lower 1000 %.2f
    emit list_ms lower 1000 %.2f
    emit delete_running_ms lower 1000 %.2f
}

# --- (e) memory ---------------------------------------------------------------
memcg_init() { # sets MEM_MNT MEM_OWN MEM_REL MEM_PEAKF, or returns 1
    local m p own
    if [[ $(stat -f -c %T /sys/fs/cgroup/memory 2>/dev/null) == cgroupfs ]]; then
        MEM_MNT=/sys/fs/cgroup/memory MEM_PEAKF=memory.max_usage_in_bytes
        own=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3; exit}' /proc/self/cgroup)
    elif [[ $(stat -f -c %T /sys/fs/cgroup 2>/dev/null) == cgroup2fs ]]; then
        # v2: only where memory is already delegated below our own cgroup
        MEM_MNT=/sys/fs/cgroup MEM_PEAKF=memory.peak
        own=$(awk -F: '$1 == "0" {print $3; exit}' /proc/self/cgroup)
        grep -qw memory "$MEM_MNT${own%/}/cgroup.subtree_control" 2>/dev/null || return 1
    else
        return 1
    fi
    [[ -n $own ]] || return 1
    MEM_OWN=${own%/}
    MEM_REL=$MEM_OWN/$PREFIX-mem
    # remember which parents of MEM_REL exist in every hierarchy, so that the
    # ones the runtimes create for the nested cgroupsPath can be removed later
    for m in "${CG_MOUNTS[@]}"; do
        p=$MEM_OWN
        while [[ -n $p ]]; do
            if [[ -d $m$p ]]; then CG_PREEXIST[$m$p]=1; else CG_PREEXIST[$m$p]=0; fi
            p=${p%/*}
        done
    done
    mkdir "$MEM_MNT$MEM_REL" 2>/dev/null || return 1
    if [[ ! -f $MEM_MNT$MEM_REL/$MEM_PEAKF ]]; then rmdir "$MEM_MNT$MEM_REL"; return 1; fi
    rmdir "$MEM_MNT$MEM_REL"
}

rm_memcg() { # remove $MEM_REL (and the container cgroup below it) in every hierarchy
    local m d
    for m in "${CG_MOUNTS[@]}"; do
        for d in "$m$MEM_REL/ctr" "$m$MEM_REL"; do
            [[ -d $d ]] || continue
            for _ in 1 2 3 4 5 6 7 8 9 10; do rmdir "$d" 2>/dev/null && break; nap 0.05; done
        done
    done
}

sec_memory() {
    local i t id rc v rssf=$WORK/rss.out memok=0
    note "(e) memory: peak RSS and cgroup peak during run, N=$MEM_N"
    if [[ -x $TIME_BIN ]]; then
        for ((i = -2; i < MEM_N; i++)); do
            order $i
            for t in "${ORDER[@]}"; do
                id=$PREFIX-$t-m$((i + 2))
                "$TIME_BIN" -f %M -o "$rssf" "${RT[$t]}" --root "${ROOT[$t]}" run --bundle "$B_TRUE" "$id" </dev/null >/dev/null 2>>"$LOG"
                rc=$?
                rt "$t" delete --force "$id" </dev/null >/dev/null 2>>"$LOG"
                ((i < 0)) && continue
                v=$(tail -n 1 "$rssf" 2>/dev/null)
                if ((rc == 0)) && isnum "$v"; then recv peak_rss_kb "$t" "$v"; else fail peak_rss_kb "$t"; fi
            done
        done
    else
        note "    $TIME_BIN not found: peak_rss_kb not measured"
    fi
    if memcg_init; then
        memok=1
        mk_bundle "$WORK/bundle-mem" '["/bin/true"]' "$MEM_REL/ctr"
        for ((i = -2; i < MEM_N; i++)); do
            order $i
            for t in "${ORDER[@]}"; do
                id=$PREFIX-$t-g$((i + 2))
                rm_memcg
                mkdir "$MEM_MNT$MEM_REL" || { fail cgroup_peak_kb "$t" "mkdir"; continue; }
                (echo "$BASHPID" >"$MEM_MNT$MEM_REL/cgroup.procs" &&
                    exec "${RT[$t]}" --root "${ROOT[$t]}" run --bundle "$WORK/bundle-mem" "$id") </dev/null >/dev/null 2>>"$LOG"
                rc=$?
                v=$(cat "$MEM_MNT$MEM_REL/$MEM_PEAKF" 2>/dev/null)
                rt "$t" delete --force "$id" </dev/null >/dev/null 2>>"$LOG"
                ((i < 0)) && continue
                if ((rc == 0)) && isnum "$v"; then recv cgroup_peak_kb "$t" $((v / 1024)); else fail cgroup_peak_kb "$t"; fi
            done
        done
        rm_memcg
    else
        note "    no usable memory cgroup (v1 memory controller, or v2 with memory delegable below our cgroup): cgroup_peak_kb not measured"
    fi
    emit peak_rss_kb lower 1 %.0f
    ((memok)) && emit cgroup_peak_kb lower 1 %.0f
    for t in c r; do recv binary_size_kb "$t" $(($(stat -L -c %s "${RT[$t]}") / 1024)); done
    emit binary_size_kb info 1 %.0f
}

# --- (f) throughput with PAR in parallel ---------------------------------------
sec_throughput() {
    local rd t w k t0 t1 total=$((PAR * THRU_PER_WORKER))
    note "(f) throughput: $PAR workers x $THRU_PER_WORKER run+delete, $THRU_ROUNDS rounds per runtime"
    for ((rd = 0; rd < THRU_ROUNDS; rd++)); do
        order $rd
        for t in "${ORDER[@]}"; do
            WORKER_PIDS=()
            t0=$EPOCHREALTIME
            for ((w = 0; w < PAR; w++)); do
                (
                    for ((k = 0; k < THRU_PER_WORKER; k++)); do
                        id=$PREFIX-$t-f$rd-$w-$k
                        rt "$t" run --bundle "$B_TRUE" "$id" </dev/null >/dev/null 2>>"$LOG" ||
                            fail throughput_per_s "$t" "run $id"
                        rt "$t" delete --force "$id" </dev/null >/dev/null 2>>"$LOG"
                    done
                ) &
                WORKER_PIDS+=($!)
            done
            wait "${WORKER_PIDS[@]}"
            t1=$EPOCHREALTIME
            WORKER_PIDS=()
            recv throughput_per_s "$t" "$(awk -v n=$total -v us=$((${t1/./} - ${t0/./})) 'BEGIN {printf "%.3f", n * 1e6 / us}')"
        done
    done
    emit throughput_per_s higher 1 %.2f
}

# --- floor: the kernel part alone, interleaved with `run` of both runtimes ----
sec_floor() {
    local i k t t0 t1 p ul=0 bb=$BUSYBOX
    local -a parts=(c r ns5 ns4 spawn)
    command -v unshare >/dev/null && command -v chroot >/dev/null && { ul=1; parts+=(ns5ul); }
    note "(floor) unshare+chroot+exec /bin/true vs run, N=$N"
    for ((i = -WARMUP; i < N; i++)); do
        for ((k = 0; k < ${#parts[@]}; k++)); do
            p=${parts[(k + i + WARMUP) % ${#parts[@]}]}
            t0=$EPOCHREALTIME
            case $p in
                c | r) rt "$p" run --bundle "$B_TRUE" "$PREFIX-$p-z$((i + WARMUP))" </dev/null >/dev/null 2>>"$LOG" ;;
                ns5) "$bb" unshare -f -p -m -u -i -n "$bb" chroot "$ROOTFS" /bin/true </dev/null >/dev/null 2>>"$LOG" ;;
                ns4) "$bb" unshare -f -p -m -u -i "$bb" chroot "$ROOTFS" /bin/true </dev/null >/dev/null 2>>"$LOG" ;;
                spawn) "$bb" true </dev/null >/dev/null 2>>"$LOG" ;;
                ns5ul) unshare --fork --pid --mount --uts --ipc --net chroot "$ROOTFS" /bin/true </dev/null >/dev/null 2>>"$LOG" ;;
            esac
            rc=$?
            t1=$EPOCHREALTIME
            [[ $p == c || $p == r ]] && rt "$p" delete --force "$PREFIX-$p-z$((i + WARMUP))" </dev/null >/dev/null 2>>"$LOG"
            ((i < 0)) && continue
            if ((rc == 0)); then rec floor "$p" "$t0" "$t1"; else fail floor "$p"; fi
        done
    done
    local f5 v
    f5=$(median "$S/floor.ns5" 1000 %.2f)
    echo "# floor (medians in ms, N=$N, interleaved with run of both runtimes; ratios are x the ns5 floor):"
    echo "#   spawn  $(median "$S/floor.spawn" 1000 %.2f)  busybox true (fork+exec from this shell)"
    echo "#   ns4    $(median "$S/floor.ns4" 1000 %.2f)  busybox unshare -f -p -m -u -i + chroot + /bin/true"
    echo "#   ns5    $f5  same + -n (network namespace)"
    ((ul)) && echo "#   ns5ul  $(median "$S/floor.ns5ul" 1000 %.2f)  util-linux unshare --fork --pid --mount --uts --ipc --net + chroot + /bin/true"
    for t in c r; do
        v=$(median "$S/floor.$t" 1000 %.2f)
        [[ -s $S/floor.$t.fail ]] && v=FAIL
        echo "#   ${NAME[$t]}  $v  run /bin/true ($(isnum "$v" && isnum "$f5" && awk -v a="$v" -v b="$f5" 'BEGIN {printf "%.1fx floor", a / b}'))"
    done
}

has run && sec_run
has lifecycle && sec_lifecycle
has exec && sec_exec
has statelist && sec_statelist
has memory && sec_memory
has throughput && sec_throughput
has floor && sec_floor

elapsed=$((SECONDS - START_SECONDS))
echo "# elapsed ${elapsed}s"
if [[ -n $WORST_FAIL ]]; then
    echo "worst_ratio FAIL $WORST_FAIL (candidate failed; other metrics above)"
    exit 1
fi
echo "worst_ratio $WORST $WORST_METRIC (candidate/reference slowdown, throughput inverted, binary size not counted; ${elapsed}s)"
((FAILED)) && exit 1
exit 0
