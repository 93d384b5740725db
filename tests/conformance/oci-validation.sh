#!/usr/bin/env bash
# oci-validation.sh - run the OCI runtime conformance suite (the validation/
# programs of github.com/opencontainers/runtime-tools) against a runtime.
# Part of husk's tests: `make conformance` runs it against ./husk through
# tests/conformance/conformance.sh; known failures on our test machine are in
# tests/conformance/known-failures.md.
#
# Usage: oci-validation.sh RUNTIME_BINARY [test-name-glob]
#   e.g. sudo ./oci-validation.sh /usr/sbin/runc
#        sudo ./oci-validation.sh ./bin/myruntime 'linux_cgroups_*'
#
# The suite comes from the Go module proxy (never from a git clone): the module
# github.com/opencontainers/runtime-tools@$OCI_VALIDATION_VERSION is fetched
# with `go mod download`, copied into the cache and built there with the local
# Go.  Its own go.sum pins every dependency.  After the first run everything is
# cached and no network is needed.
#
# Environment:
#   OCI_VALIDATION_VERSION  module version (default: newest pseudo-version known
#                           to the proxy, see DEFAULT_VERSION below)
#   OCI_VALIDATION_TIMEOUT  per-program timeout in seconds (default 120)
#   OCI_VALIDATION_OUT      directory for per-program TAP/stderr logs and the
#                           summary (default: a fresh dir under ${TMPDIR:-/tmp})
#   OCI_VALIDATION_STATE    state dir passed as `--root DIR` to the runtime
#                           (default: $OUT/state); "none" = do not pass --root
#   OCI_VALIDATION_RUNTIME_ARGS  extra global flags put before the subcommand
#                           (after --root), e.g. "--debug"
#   GO                      go binary (default: go in PATH, else /usr/local/go/bin/go)
#   XDG_CACHE_HOME          cache root (default ~/.cache); the cache lives in
#                           $XDG_CACHE_HOME/oci-validation
#
# Output: one line per program, then exactly `N passed, N failed, N skipped`
# counting TAP assertions (`ok`, `not ok`, `# SKIP`; `# TODO` counts as
# skipped).  A program that exits non-zero, times out, prints no plan or fewer
# assertions than planned adds one extra failed assertion; an "error" YAML
# block attached to no assertion counts as one failed assertion; a program
# that exits 0 with no assertion at all (the *_fail programs, the hook
# programs) counts as one passed assertion.
# Exit status: 0 when nothing failed, 1 when something failed, 2 on setup error.
# Needs root.  Do not run two copies at once on one host: the cgroup programs
# use fixed cgroup paths (/cgrouptest, testdir/cgrouptest/container).
# After each program the harness removes what the program left behind, by id
# or path only: processes of its session, containers in the private --root,
# mounts under $OUT/tmp, and the suite's empty cgroups /cgrouptest and
# testdir/cgrouptest{/container,} -- at the hierarchy roots and below this
# script's own cgroups, where runc resolves a relative cgroupsPath.
# shellcheck disable=SC2015,SC2016  # `a && b || die` and literal sh -c scripts are intended
set -u -o pipefail

DEFAULT_VERSION=v0.9.1-0.20260316125833-8a4db579f5c8
MODULE=github.com/opencontainers/runtime-tools

die() { echo "oci-validation: $*" >&2; echo "0 passed, 1 failed, 0 skipped"; exit 2; }

[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 RUNTIME_BINARY [test-name-glob]" >&2; exit 2; }
RT_ARG=$1
GLOB=${2:-*}
[ "$(id -u)" = 0 ] || die "must run as root (the suite creates real containers)"

case $RT_ARG in
  */*) RT=$(cd "$(dirname "$RT_ARG")" 2>/dev/null && pwd)/$(basename "$RT_ARG") ;;
  *)   RT=$(command -v "$RT_ARG" || true) ;;
esac
[ -n "$RT" ] && [ -x "$RT" ] || die "runtime binary not found or not executable: $RT_ARG"

VERSION=${OCI_VALIDATION_VERSION:-$DEFAULT_VERSION}
TIMEOUT=${OCI_VALIDATION_TIMEOUT:-120}
CACHE=${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/oci-validation
if [ -n "${GO:-}" ]; then :; elif command -v go >/dev/null 2>&1; then GO=go; else GO=/usr/local/go/bin/go; fi
for tool in tar timeout setsid flock unshare ps awk; do
  command -v "$tool" >/dev/null 2>&1 || die "missing host tool: $tool"
done

# ---------------------------------------------------------------- build suite
SRC=$CACHE/src/$VERSION
BIN=$CACHE/bin/$VERSION
build_suite() {
  command -v "$GO" >/dev/null 2>&1 || [ -x "$GO" ] || die "no Go toolchain (set GO=...)"
  mkdir -p "$CACHE" || die "cannot create cache dir $CACHE"
  export GOMODCACHE=$CACHE/gomod GOCACHE=$CACHE/gobuild GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off GO111MODULE=on
  local json dir
  echo "oci-validation: fetching $MODULE@$VERSION from the Go module proxy" >&2
  # run outside any module so the caller's go.mod is never touched
  json=$(cd "$CACHE" && GOFLAGS=-modcacherw "$GO" mod download -json "$MODULE@$VERSION") \
    || die "go mod download $MODULE@$VERSION failed: $json"
  dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -n "$dir" ] && [ -d "$dir/validation" ] || die "module has no validation/ dir ($dir)"
  rm -rf "$SRC" "$BIN" && mkdir -p "$(dirname "$SRC")" "$BIN" || die "cannot prepare $SRC"
  cp -R "$dir" "$SRC" && chmod -R u+w "$SRC" && rm -rf "$SRC/vendor" || die "copy failed"
  echo "oci-validation: building validation programs with $("$GO" version)" >&2
  ( cd "$SRC" && GOFLAGS="-mod=mod -modcacherw -buildvcs=false" \
      nice -n 10 "$GO" build -p 2 -trimpath -ldflags='-s -w' -o "$BIN/" ./validation/... ./cmd/runtimetest ) >&2 \
    || die "build failed"
  cp "$SRC/rootfs-amd64.tar.gz" "$BIN/" 2>/dev/null || cp "$SRC"/rootfs-*.tar.gz "$BIN/" || die "no rootfs tarball in module"
  (cd "$SRC/validation" && for d in */; do d=${d%/}; [ "$d" != util ] && [ -x "$BIN/$d" ] && echo "$d"; done) > "$BIN/programs.txt"
  { echo "$MODULE@$VERSION"; "$GO" version; } > "$BIN/.complete"
}
mkdir -p "$CACHE" || die "cannot create cache dir $CACHE"
exec 9>"$CACHE/.lock" && flock 9 || die "cannot lock $CACHE/.lock"   # one build at a time
[ -f "$BIN/.complete" ] || build_suite
flock -u 9; exec 9>&-

# ---------------------------------------------------------------- run
OUT=${OCI_VALIDATION_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/oci-validation.XXXXXX")}
mkdir -p "$OUT/logs" "$OUT/run" "$OUT/tmp" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
STATE=${OCI_VALIDATION_STATE:-$OUT/state}
# the programs expect ./runtimetest and ./rootfs-<arch>.tar.gz in their cwd
cp "$BIN/runtimetest" "$BIN"/rootfs-*.tar.gz "$OUT/run/" || die "cannot stage suite files"

# RUNTIME wrapper: private --root, extra flags, and a call log for debugging
WRAP=$OUT/runtime
{
  echo '#!/bin/sh'
  echo "echo \"\${OCI_VALIDATION_PROG:-?} \$*\" >> '$OUT/logs/runtime-calls.log'"
  if [ "$STATE" = none ]; then
    echo "exec '$RT' ${OCI_VALIDATION_RUNTIME_ARGS:-} \"\$@\""
  else
    mkdir -p "$STATE"
    echo "exec '$RT' --root '$STATE' ${OCI_VALIDATION_RUNTIME_ARGS:-} \"\$@\""
  fi
} > "$WRAP"
chmod +x "$WRAP"

# this script's own cgroup paths ("" for the root), one per distinct path
mapfile -t OWN_CGROUPS < <(awk -F: '{ p = $3; sub(/\/$/, "", p); print p }' /proc/self/cgroup | sort -u)
[ "${#OWN_CGROUPS[@]}" -gt 0 ] || OWN_CGROUPS=("")

cleanup_after() { # $1 = session id of the program just run
  local sid=$1 pid s id m d
  # leftover helper processes of the program (same session), by pid
  if [ "$sid" -gt 1 ] 2>/dev/null; then
    while read -r pid s; do
      [ "$s" = "$sid" ] && kill -KILL "$pid" 2>/dev/null
    done < <(ps -e -o pid=,sid=)
  fi
  # leftover containers in our private state dir
  if [ "$STATE" != none ] && [ -d "$STATE" ]; then
    for id in $("$WRAP" list -q </dev/null 2>/dev/null); do
      OCI_VALIDATION_PROG=cleanup "$WRAP" delete --force "$id" </dev/null >/dev/null 2>&1
    done
  fi
  # mounts that leaked into this mount namespace under our bundles (e.g.
  # linux_ns_itype runs a container without a mount namespace), deepest first
  awk -v pre="$OUT/tmp/" 'index($5, pre) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -n -l "$m" 2>/dev/null; done
  rm -rf --one-file-system "$OUT/tmp"/* 2>/dev/null
  # empty cgroups left by the cgroup tests (the suite's fixed paths
  # "/cgrouptest" and "testdir/cgrouptest/container"); rmdir fails on busy
  # ones.  A relative cgroupsPath lands below the runtime's own cgroup (runc
  # 1.1 joins it to the caller's cgroup in each hierarchy), i.e. below ours.
  for d in /sys/fs/cgroup/*/cgrouptest /sys/fs/cgroup/cgrouptest; do
    [ -d "$d" ] && rmdir "$d" 2>/dev/null
  done
  for own in "${OWN_CGROUPS[@]}"; do
    for d in /sys/fs/cgroup/*"$own"/testdir/cgrouptest/container /sys/fs/cgroup/*"$own"/testdir/cgrouptest \
             /sys/fs/cgroup/*"$own"/testdir /sys/fs/cgroup"$own"/testdir/cgrouptest/container \
             /sys/fs/cgroup"$own"/testdir/cgrouptest /sys/fs/cgroup"$own"/testdir; do
      [ -d "$d" ] && rmdir "$d" 2>/dev/null
    done
  done
  return 0
}

{
  echo "# runtime: $RT_ARG ($("$RT" --version 2>/dev/null | head -n1))"
  echo "# suite: $(head -n1 "$BIN/.complete")  built with: $(sed -n 2p "$BIN/.complete")"
  echo "# kernel: $(uname -r)  date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  timeout: ${TIMEOUT}s  glob: $GLOB"
  [ -n "${OCI_VALIDATION_RUNTIME_ARGS:-}" ] && echo "# runtime args: $OCI_VALIDATION_RUNTIME_ARGS"
} | tee "$OUT/summary.txt"

TP=0 TF=0 TS=0 NPROG=0 START=$(date +%s)
while read -r prog; do
  # shellcheck disable=SC2053
  [[ $prog == $GLOB ]] || continue
  NPROG=$((NPROG + 1))
  t0=$(date +%s%N)
  sidfile=$OUT/tmp/.sid
  ( cd "$OUT/run" && export RUNTIME=$WRAP TMPDIR=$OUT/tmp OCI_VALIDATION_PROG=$prog &&
    exec setsid -w sh -c 'echo $$ > "$0"; exec timeout -k 10 "$1" "$2"' "$sidfile" "$TIMEOUT" "$BIN/$prog" ) \
    </dev/null >"$OUT/logs/$prog.tap" 2>"$OUT/logs/$prog.stderr"
  rc=$?
  ms=$(( ($(date +%s%N) - t0) / 1000000 )); secs=$((ms / 1000)).$(( (ms % 1000) / 100 ))
  sid=$(cat "$sidfile" 2>/dev/null || echo 0); rm -f "$sidfile"
  cleanup_after "$sid"
  # count TAP assertions.  Top-level lines only (YAML blocks are indented);
  # descriptions may span several lines ("Refer to: ...").  Some programs
  # (hooks, prestart, poststart, ...) report a failure only as a YAML block
  # with an "error" key that follows no assertion: count each such block as one
  # failed assertion.
  read -r plan p f s n orphan < <(awk '
    /^  ---[ \t]*$/ { inyaml = 1; attached = (prev == "assert"); next }
    inyaml && /^  \.\.\.[ \t]*$/ { inyaml = 0; prev = "yaml"; next }
    inyaml { if (!attached && $0 ~ /^    "error":/) orphan++; next }
    /^TAP version/ { prev = "header"; next }
    /^1\.\.[0-9]+/ { if (plan == "") plan = substr($1, 4) + 0; prev = "plan"; next }
    /^(not )?ok([ \t]|$)/ {
      n++; prev = "assert"
      if ($0 ~ /#[ \t]*[Ss][Kk][Ii][Pp]/ || $0 ~ /#[ \t]*[Tt][Oo][Dd][Oo]/) s++
      else if ($0 ~ /^ok/) p++
      else f++
    }
    END { printf "%s %d %d %d %d %d\n", (plan == "" ? "-" : plan), p, f, s, n, orphan }' "$OUT/logs/$prog.tap")
  err=""
  [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && err="timeout(${TIMEOUT}s)"
  [ -z "$err" ] && [ "$rc" -ne 0 ] && err="exit=$rc"
  [ "$rc" -eq 0 ] && [ "$n" -gt 0 ] && [ "$plan" = - ] && err="no-plan"
  [ "$plan" != - ] && [ "$plan" -ne 0 ] && [ "$n" -ne "$plan" ] && err="${err:+$err,}planned=$plan,seen=$n"
  [ -n "$err" ] && f=$((f + 1))
  [ "$orphan" -gt 0 ] && { f=$((f + orphan)); err="${err:+$err,}unasserted-error=$orphan"; }
  # the *_fail programs and the hook programs print no assertion when they pass
  [ -z "$err" ] && [ "$n" -eq 0 ] && { p=1; err="no-assertion,exit=0"; }
  if [ "$f" -gt 0 ]; then st=FAIL; elif [ "$p" -eq 0 ] && [ "$s" -gt 0 ]; then st=SKIP; else st=PASS; fi
  TP=$((TP + p)) TF=$((TF + f)) TS=$((TS + s))
  printf '%-4s %-34s pass=%-4d fail=%-3d skip=%-3d %6ss %s\n' "$st" "$prog" "$p" "$f" "$s" "$secs" "$err" | tee -a "$OUT/summary.txt"
done < "$BIN/programs.txt"

[ "$NPROG" -gt 0 ] || die "no validation program matches '$GLOB' (see $BIN/programs.txt)"
[ "$STATE" != none ] && rmdir "$STATE" 2>/dev/null
echo "# $NPROG programs in $(( $(date +%s) - START ))s; logs: $OUT/logs" | tee -a "$OUT/summary.txt" >&2
echo "$TP passed, $TF failed, $TS skipped" | tee -a "$OUT/summary.txt"
[ "$TF" -eq 0 ]
