#!/bin/bash
# tests/e2e/run.sh: `make test-e2e`, the real-clients lane.
#
#   RUNTIME=/abs/path/to/runtime tests/e2e/run.sh [podman|containerd|docker|all]...
#
# Drives RUNTIME (default: ./husk of the repo) through podman, containerd (ctr)
# and docker with private daemons/stores (see the *-smoke.sh scripts and
# README.md here), one client at a time. With E2E_BASELINE=1 (the default)
# each client's smoke also runs with /usr/sbin/runc, so that a check that
# fails for both points at the host, not at RUNTIME.
#
# Environment:
#   RUNTIME             runtime under test (default: ./husk of the repo)
#   E2E_BASELINE=0|1    also run each smoke with E2E_BASELINE_RUNTIME (default 1)
#   E2E_BASELINE_RUNTIME  default /usr/sbin/runc
#   E2E_OUT             full logs: <client>.<runtime>.log (default tests/e2e/out)
#   E2E_NO_APT=1        never call apt-get install (fail if something is missing)
#   SMOKE_*             passed to the smoke scripts (SMOKE_TMPDIR, SMOKE_TRACE,
#                       SMOKE_KEEP, SMOKE_TIMEOUT, SMOKE_VERBOSE, ...)
#
# Output: the non-ok lines (FAIL with context, skip, #) of each run as they
# come, then per client
#   client: <runtime> N passed, N failed | runc N passed, N failed
# and a final "N passed, N failed" line for RUNTIME. Exit status: 0 only if
# RUNTIME failed no check (baseline failures are reported, not fatal).
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
T0=$(date +%s)
log() { echo "e2e: $*" >&2; }
die() { log "$*"; exit 2; }

CLIENTS=()
for a in "${@:-all}"; do
	case $a in
		all) CLIENTS+=(podman containerd docker) ;;
		podman | containerd | docker) CLIENTS+=("$a") ;;
		*) die "usage: RUNTIME=... $0 [podman|containerd|docker|all]..." ;;
	esac
done
RUNTIME=${RUNTIME:-$REPO/husk}
[ -e "$RUNTIME" ] || die "runtime '$RUNTIME' not found (run make, or set RUNTIME)"
RUNTIME=$(realpath "$RUNTIME")
[ -f "$RUNTIME" ] && [ -x "$RUNTIME" ] || die "runtime '$RUNTIME' is not an executable file"
BASELINE=${E2E_BASELINE:-1}
BASE_RT=${E2E_BASELINE_RUNTIME:-/usr/sbin/runc}
OUT=${E2E_OUT:-$HERE/out}
[ "$(id -u)" = 0 ] || die "must run as root (private daemons, mounts, cgroups)"

# ------------------------------------------------------------ host packages
# Installed only when missing. docker.io/containerd come with init scripts:
# a policy-rc.d (already present on this VM) keeps apt from starting the
# system daemons; the smoke scripts start private ones.
declare -A PKG_OF=([busybox]=busybox-static [/usr/sbin/runc]=runc [ip]=iproute2 [script]=bsdutils
	[pgrep]=procps [mountpoint]=util-linux [sha256sum]=coreutils)
for c in "${CLIENTS[@]}"; do
	case $c in
		podman) PKG_OF[podman]=podman PKG_OF[conmon]=conmon PKG_OF[catatonit]=catatonit ;; # --init, pods
		containerd) PKG_OF[containerd]=containerd PKG_OF[ctr]=containerd PKG_OF[containerd-shim-runc-v2]=containerd ;;
		docker) PKG_OF[dockerd]=docker.io PKG_OF[/usr/bin/docker]=docker.io PKG_OF[tini]=tini ;;
	esac
done
missing=()
for cmd in "${!PKG_OF[@]}"; do
	PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" >/dev/null && continue
	[[ " ${missing[*]} " == *" ${PKG_OF[$cmd]} "* ]] || missing+=("${PKG_OF[$cmd]}")
done
if [ ${#missing[@]} -gt 0 ]; then
	[ -z "${E2E_NO_APT:-}" ] || die "missing packages: ${missing[*]}"
	log "installing: ${missing[*]}"
	made_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\n# husk tests/e2e/run.sh: no service starts during this install\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d; made_policy=1
	fi
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	arc=$?
	[ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
	[ "$arc" = 0 ] || die "apt-get install failed ($arc)"
fi
export PATH=$PATH:/usr/sbin:/sbin

# ------------------------------------------------------------ run
mkdir -p "$OUT"
name_of() { basename "$1"; }
RTN=$(name_of "$RUNTIME")
BRN=$(name_of "$BASE_RT")
[ "$RTN" = "$BRN" ] && [ "$RUNTIME" != "$(realpath "$BASE_RT")" ] && RTN="$RTN($RUNTIME)"
same_binary=; [ "$(realpath "$BASE_RT" 2>/dev/null)" = "$RUNTIME" ] && same_binary=1

# smoke CLIENT RUNTIME LABEL LOG: run one smoke; sets P F (counts) and prints
# its non-ok lines live, prefixed with the label.
smoke() {
	local client=$1 rt=$2 label=$3 logf=$4 src
	echo "== $client with $label ($rt)"
	"$HERE/$client-smoke.sh" "$rt" </dev/null 2>&1 | tee "$logf" |
		awk -v l="$label" '!/^ok    / { print "  [" l "] " $0; fflush() }'
	src=${PIPESTATUS[0]}
	local last
	last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$logf" | tail -1)
	if [ -n "$last" ]; then
		P=${last%% passed*}; F=${last#*passed, }; F=${F%% failed*}
	else
		P=$(grep -c '^ok    ' "$logf"); F=$(($(grep -c '^FAIL  ' "$logf") + 1))
		echo "  [$label] $client-smoke.sh exited $src without its summary line: counted as one more failure"
	fi
	[ "$src" = 0 ] || [ "$F" -gt 0 ] || F=1   # a non-zero exit is a failure even without a FAIL line
}
# normalized check names of LOG with status ok|FAIL (parenthesized details dropped)
checks() { grep -E "^$2 +" "$1" | sed -E "s/^$2 +//; s/ \(.*//" | sort -u; }

TOTAL_P=0 TOTAL_F=0
SUMMARY=()
for c in "${CLIENTS[@]}"; do
	rlog=$OUT/$c.$(name_of "$RUNTIME").log
	smoke "$c" "$RUNTIME" "$RTN" "$rlog"
	rp=$P rf=$F
	TOTAL_P=$((TOTAL_P + rp)) TOTAL_F=$((TOTAL_F + rf))
	line="$c: $RTN $rp passed, $rf failed"
	if [ "$BASELINE" != 1 ]; then
		line+=" | $BRN not run (E2E_BASELINE=0)"
	elif [ -n "$same_binary" ]; then
		line+=" | $BRN $rp passed, $rf failed (same binary as RUNTIME: not run twice)"
	elif [ ! -x "$BASE_RT" ]; then
		line+=" | $BRN missing ($BASE_RT)"
	else
		blog=$OUT/$c.baseline-$BRN.log
		smoke "$c" "$BASE_RT" "$BRN" "$blog"
		line+=" | $BRN $P passed, $F failed"
		if [ "$rf" -gt 0 ]; then
			only=$(comm -12 <(checks "$rlog" FAIL) <(checks "$blog" ok))
			both=$(comm -12 <(checks "$rlog" FAIL) <(checks "$blog" FAIL))
			echo "  $c: of the checks $RTN failed, $(grep -c . <<<"$only") pass with $BRN, $(grep -c . <<<"$both") fail with $BRN too"
			[ -z "$both" ] || { echo "  failing with $BRN too (a host problem?):"; sed 's/^/    /' <<<"$both"; }
		fi
	fi
	SUMMARY+=("$line")
	echo "$line"
done

echo "== summary (logs in $OUT)"
printf '%s\n' "${SUMMARY[@]}"
echo "e2e: wall $(($(date +%s) - T0))s"
echo "$TOTAL_P passed, $TOTAL_F failed"
[ "$TOTAL_F" = 0 ]
