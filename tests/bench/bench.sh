#!/usr/bin/env bash
# bench.sh [CANDIDATE] [REFERENCE] -- `make bench`: husk against runc.
#
# Runs tests/bench/runtime-bench.sh (see its header for the metrics and every
# BENCH_* knob; they pass through) with CANDIDATE (default: ./husk of this
# repo) against REFERENCE (default: /usr/sbin/runc), keeps the full output in
# tests/bench/out/, then prints the table and husk's design targets:
#     run_ms ratio <= 0.6   and   peak_rss_kb ratio <= 0.6   (candidate/reference)
# Needs root. Installs runc, busybox-static, time (GNU time) and perl with
# apt-get when one of them is missing.
#
# Extra knobs:
#   BENCH_QUICK=1    smoke check in about a minute: N=5, 5 containers, 3 memory
#                    samples, 1 throughput round (explicit BENCH_* values win)
#   BENCH_OUT_DIR    where the output files go [tests/bench/out]
#   BENCH_STRICT=1   exit 3 when a target is missed by more than the noise
#                    band BENCH_NOISE [0.15] (A/A runs of runc against itself
#                    vary by up to about 15 % on a loaded 2-core VM)
# Exit status: that of runtime-bench.sh (0 ok, 1 a metric FAILed, 2 setup
# error), or 3 with BENCH_STRICT=1 and a missed target.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
die() { echo "bench.sh: $*" >&2; exit 2; }

[[ $# -le 2 ]] || die "usage: bench.sh [CANDIDATE] [REFERENCE]"
[[ $(id -u) == 0 ]] || die "must run as root (the benchmark creates real containers); try: sudo make bench"

# absolute path of a binary given as a path or as a command name
abs_bin() {
    local p
    case $1 in
        */*) p=$1 ;;
        *) p=$(command -v -- "$1") || return 1 ;;
    esac
    [[ -f $p && -x $p ]] || return 1
    readlink -f -- "$p"
}

cand_arg=${1:-$repo/husk}
ref_arg=${2:-/usr/sbin/runc}
hint=''
[[ -z ${1:-} ]] && hint=' (build it first: make husk)'
cand=$(abs_bin "$cand_arg") || die "candidate not found or not executable: $cand_arg$hint"

# --- dependencies (Debian packages), installed only when missing ---------------
pkg_ok() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == 'install ok installed' ]]; }
missing=()
if command -v dpkg-query >/dev/null; then
    for p in runc busybox-static time perl; do pkg_ok "$p" || missing+=("$p"); done
else
    [[ -x /usr/sbin/runc ]] || missing+=(runc)
    [[ -x ${BENCH_BUSYBOX:-/usr/bin/busybox} ]] || missing+=(busybox-static)
    [[ -x ${BENCH_TIME:-/usr/bin/time} ]] || missing+=(time)
    command -v perl >/dev/null || missing+=(perl)
fi
if ((${#missing[@]})); then
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
    echo "bench.sh: installing ${missing[*]}" >&2
    apt-get update -qq >/dev/null || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        die "apt-get install ${missing[*]} failed"
fi
ref=$(abs_bin "$ref_arg") || die "reference not found or not executable: $ref_arg"

# --- knobs ---------------------------------------------------------------------
if [[ ${BENCH_QUICK:-0} == 1 ]]; then
    : "${BENCH_N:=5}" "${BENCH_WARMUP:=1}" "${BENCH_CONTAINERS:=5}" "${BENCH_MEM_N:=3}"
    : "${BENCH_THRU_ROUNDS:=1}" "${BENCH_THRU_PER_WORKER:=3}"
    export BENCH_N BENCH_WARMUP BENCH_CONTAINERS BENCH_MEM_N BENCH_THRU_ROUNDS BENCH_THRU_PER_WORKER
fi
noise=${BENCH_NOISE:-0.15}
[[ $noise =~ ^[0-9]+([.][0-9]+)?$ ]] || die "BENCH_NOISE must be a number"
outdir=${BENCH_OUT_DIR:-$here/out}
mkdir -p "$outdir" || die "cannot create $outdir"
outdir=$(cd "$outdir" && pwd)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$outdir/bench-$stamp.txt   # the benchmark's stdout: header, table, floor, worst_ratio
log=$outdir/bench-$stamp.log   # its progress (stderr)
cname=$(basename "$cand") rname=$(basename "$ref")

quick=''
[[ ${BENCH_QUICK:-0} == 1 ]] && quick=' (quick mode)'
echo "bench.sh: $cand vs $ref$quick; output in $out" >&2
# stdout (the results) to $out, stderr (progress) to the terminal and $log
set +e
bash "$here/runtime-bench.sh" "$cand" "$ref" 2>&1 >"$out" | tee "$log" >&2
rc=${PIPESTATUS[0]}
set -e
ln -sfn "$(basename "$out")" "$outdir/latest.txt"

if [[ -s $out ]]; then
    echo
    cat "$out"
    echo
fi
strict_miss=0
if ! grep -q -v -e '^#' -e '^worst_ratio' "$out"; then
    echo "bench.sh: runtime-bench.sh exited $rc without results; see above and $log" >&2
    exit $((rc ? rc : 2))
fi

# --- summary against the design targets ----------------------------------------
ratio_of() { awk -v m="$1" '$1 == m { print $4; exit }' "$out"; }
echo "summary: $cname/$rname ratios against husk's design targets (lower is better)"
for spec in run_ms:0.6 peak_rss_kb:0.6; do
    m=${spec%%:*} target=${spec#*:}
    r=$(ratio_of "$m")
    if [[ -z $r ]]; then
        verdict="not measured (section not run?)"
    elif ! [[ $r =~ ^[0-9]+([.][0-9]+)?$ ]]; then
        verdict="no ratio ($(awk -v m="$m" '$1 == m { print "candidate " $2 ", reference " $3; exit }' "$out"))"
    elif awk -v r="$r" -v t="$target" 'BEGIN { exit !(r <= t) }'; then
        verdict=met
    elif awk -v r="$r" -v t="$target" -v n="$noise" 'BEGIN { exit !(r <= t + n) }'; then
        verdict="missed, within the noise band (+$noise)"
    else
        verdict=missed
        strict_miss=1
    fi
    printf '  %-12s %6s   target <= %s   %s\n' "$m" "${r:-NA}" "$target" "$verdict"
done
worst=$(tail -n 1 "$out")
[[ $worst == worst_ratio* ]] && echo "  ${worst%% (*}"
echo "  full output: $out"
echo "  progress log: $log"

if ((rc != 0)); then
    echo "bench.sh: runtime-bench.sh exited $rc (1: a metric FAILed, 2: setup error; see above and $log)" >&2
    exit "$rc"
fi
if [[ ${BENCH_STRICT:-0} == 1 ]] && ((strict_miss)); then
    echo "bench.sh: BENCH_STRICT=1 and a design target was missed" >&2
    exit 3
fi
exit 0
