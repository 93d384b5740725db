#!/usr/bin/env bash
# run-go-tests.sh: `make test`. Runs every package's tests verbosely (the
# integration tests run real containers with ./husk: they need root), and
# closes with go test's own per-package summary and one counting line.
set -uo pipefail
cd "$(dirname "$0")/.."
export HUSK_BINARY=$PWD/husk
log=$(mktemp /tmp/husk-test.XXXXXX)
trap 'rm -f "$log"' EXIT
go test -count=1 -v -timeout 20m ./... 2>&1 | tee "$log" | grep -E '^(=== RUN|\s*--- (PASS|FAIL|SKIP)|ok |FAIL|panic|\s+\S+_test\.go:[0-9]+:)' | grep -v '^=== RUN'
rc=${PIPESTATUS[0]}
pass=$(grep -cE '^\s*--- PASS' "$log")
fail=$(grep -cE '^\s*--- FAIL' "$log")
skip=$(grep -cE '^\s*--- SKIP' "$log")
if ((skip)); then
	echo "skipped (with reasons):"
	grep -B1 -E '^\s*--- SKIP' "$log" | grep -vE '^(--|\s*--- SKIP)' | sed 's/^/  /'
fi
echo "$pass passed, $fail failed, $skip skipped"
exit "$rc"
