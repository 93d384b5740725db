#!/usr/bin/env bash
# conformance.sh [RUNTIME [GLOB]] -- `make conformance`: the OCI runtime-tools
# validation suite against RUNTIME (default: ./husk of this repo).
#
# Runs tests/conformance/oci-validation.sh (see its header: where the suite
# comes from, its knobs OCI_VALIDATION_*, how assertions are counted) with its
# logs in tests/conformance/out/<runtime>-<UTC time>/ (or $OCI_VALIDATION_OUT),
# prints one PASS/FAIL/SKIP line per program and the line
#     N passed, N failed, N skipped
# and then compares the failed count with CONFORMANCE_MAX_FAILED:
#   unset  report only (exit 0 unless the suite could not run)
#   N      exit 1 when more than N assertions failed
# GLOB (bash pattern, e.g. 'linux_cgroups_*') runs a subset of the programs.
# The expected failures on our test machine are listed, with their causes, in
# tests/conformance/known-failures.md.
#
# Needs root. Installs tar, util-linux and procps with apt-get when a tool
# from them is missing. The first run downloads and builds the suite (about a
# minute, needs Go and the Go module proxy); it is cached in
# ${XDG_CACHE_HOME:-~/.cache}/oci-validation (about 265 MB) for later runs.
# Exit status: 0 ok, 1 over the allowance, 2 setup error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
die() { echo "conformance.sh: $*" >&2; exit 2; }

[[ $# -le 2 ]] || die "usage: conformance.sh [RUNTIME [GLOB]]"
[[ $(id -u) == 0 ]] || die "must run as root (the suite creates real containers); try: sudo make conformance"

max=${CONFORMANCE_MAX_FAILED:-}
[[ -z $max || $max =~ ^[0-9]+$ ]] || die "CONFORMANCE_MAX_FAILED must be a non-negative integer (got '$max')"

# --- host tools, installed only when missing -----------------------------------
missing=()
command -v tar >/dev/null || missing+=(tar)
for t in setsid flock unshare; do
    command -v "$t" >/dev/null || { missing+=(util-linux); break; }
done
command -v ps >/dev/null || missing+=(procps)
if ((${#missing[@]})); then
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
    echo "conformance.sh: installing ${missing[*]}" >&2
    apt-get update -qq >/dev/null || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        die "apt-get install ${missing[*]} failed"
fi

# --- runtime -------------------------------------------------------------------
rt_arg=${1:-$repo/husk}
case $rt_arg in
    */*) rt=$rt_arg ;;
    *) rt=$(command -v -- "$rt_arg") || rt=$rt_arg ;;
esac
if [[ ! -f $rt || ! -x $rt ]]; then
    [[ -z ${1:-} ]] && die "runtime not found: $rt (build it first: make husk)"
    die "runtime not found or not executable: $rt_arg"
fi
rt=$(readlink -f -- "$rt")
glob=${2:-*}

# --- run -------------------------------------------------------------------------
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=${OCI_VALIDATION_OUT:-$here/out/$(basename "$rt")-$stamp}
mkdir -p "$out" || die "cannot create $out"
out=$(cd "$out" && pwd)
export OCI_VALIDATION_OUT=$out
[[ $out == "$here/out/"* ]] && ln -sfn "$(basename "$out")" "$here/out/latest"

echo "conformance.sh: $rt, programs '$glob', logs in $out" >&2
set +e
bash "$here/oci-validation.sh" "$rt" "$glob" | tee "$out/stdout.txt"
rc=${PIPESTATUS[0]}
set -e
# keep the logs and the summary; drop the staged suite files and empty dirs
rm -rf --one-file-system "$out/run"
rmdir "$out/tmp" "$out/state" 2>/dev/null || true

last=$(tail -n 1 "$out/stdout.txt")
if ((rc == 2)) || ! [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
    die "the suite did not run (exit $rc); see the messages above and $out"
fi
failed=${BASH_REMATCH[2]}

echo "known failures on the test machine: tests/conformance/known-failures.md; logs: $out/logs" >&2
if [[ -z $max ]]; then
    echo "conformance: $failed failed assertions (report only; set CONFORMANCE_MAX_FAILED=N to fail above N)"
    exit 0
fi
if ((failed > max)); then
    echo "conformance: FAIL: $failed failed assertions, more than CONFORMANCE_MAX_FAILED=$max"
    exit 1
fi
echo "conformance: OK: $failed failed assertions, within CONFORMANCE_MAX_FAILED=$max"
exit 0
