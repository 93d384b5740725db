#!/usr/bin/env bash
# demo.sh HUSK: make a busybox bundle with `husk spec` and run a container
# that prints its hostname and its pid. Leaves nothing behind.
set -euo pipefail
husk=$(readlink -f "${1:-./husk}")
[[ $(id -u) == 0 ]] || { echo "demo.sh: run as root (containers need it)" >&2; exit 1; }
busybox=/bin/busybox
[[ -x $busybox ]] || { echo "demo.sh: $busybox missing: apt-get install busybox-static" >&2; exit 1; }
dir=$(mktemp -d /tmp/husk-demo.XXXXXX)
id=husk-demo-$$
root=$dir/state
trap '"$husk" --root "$root" delete --force "$id" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
mkdir -p "$dir/bundle/rootfs/bin"
cp "$busybox" "$dir/bundle/rootfs/bin/busybox"
for applet in sh hostname echo cat ls ps; do ln -s busybox "$dir/bundle/rootfs/bin/$applet"; done
cd "$dir/bundle"
"$husk" spec
# Not a terminal (CI has none), and a command that shows the isolation.
sed -i -e 's/"terminal": true/"terminal": false/' \
       -e 's|"sh"$|"sh", "-c", "echo hostname: $(hostname); echo pid: $$"|' config.json
echo "+ husk run $id   (bundle $dir/bundle)"
"$husk" --root "$root" run "$id"
