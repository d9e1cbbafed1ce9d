#!/bin/bash
# A full Debian guest with a warm package cache: `vmkit guest build
# --distro debian` (mmdebstrap's tar stream poured into ext4 inside a
# partitioned image, GRUB installed) against the same mmdebstrap run
# writing a directory plus `mke2fs -t ext4 -d` of that directory, in the
# same run.  Target: vmkit's whole build within 1.1x of the reference.
# Needs Debian's mirror and root (mmdebstrap's root mode; mke2fs -d keeps
# owners only as root).  Each side runs once (~8 minutes each on 2 cores);
# the first vmkit build fills ~/.cache/vmkit/debian if it is empty, so run
# it twice on a fresh machine.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMKIT=${VMKIT:-$TOP/build/vmkit}
SUITE=bookworm
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/vmkit/debian/$SUITE-amd64
D=$(mktemp -d "${TMPDIR:-/tmp}/vmkit-bench.XXXXXX")
trap 'rm -rf --one-file-system "$D"' EXIT
[ "$(id -u)" = 0 ] || { echo "bench/debian.sh: run as root"; exit 1; }
command -v mmdebstrap >/dev/null || { echo "mmdebstrap missing (scripts/deps.sh)"; exit 1; }
[ -d "$CACHE/archives" ] || echo "# note: $CACHE is empty: this run fills it (not a warm-cache figure)"

now() { date +%s.%N; }
t0=$(now)
"$VMKIT" guest build -q --distro debian --hostname bench "$D/vmkit.img" ||
    { echo "FAILED: vmkit guest build"; exit 1; }
t1=$(now)

# The package list guest build gives mmdebstrap (src/guest/debian.c).
PKGS=systemd-sysv,udev,dbus,iproute2,netbase,ca-certificates,systemd-resolved,initramfs-tools,linux-image-cloud-amd64
mmdebstrap --mode=root --variant=minbase --include="$PKGS" --format=directory \
    --skip=essential/unlink --quiet \
    --setup-hook='mkdir -p "$1/var/cache/apt/archives" "$1/var/lib/apt/lists"' \
    --setup-hook="sync-in $CACHE/archives /var/cache/apt/archives" \
    --setup-hook="sync-in $CACHE/lists /var/lib/apt/lists" \
    "$SUITE" "$D/tree" >/dev/null 2>"$D/err" || { echo "FAILED: mmdebstrap"; cat "$D/err"; exit 1; }
t2=$(now)
mke2fs -q -t ext4 -d "$D/tree" "$D/ref.img" 2G || { echo "FAILED: mke2fs -d"; exit 1; }
t3=$(now)

v=$(echo "$t1 - $t0" | bc); m=$(echo "$t2 - $t1" | bc); k=$(echo "$t3 - $t2" | bc)
r=$(echo "$m + $k" | bc)
printf 'guest build --distro debian: %.1f s\n' "$v"
printf 'mmdebstrap (directory) %.1f s + mke2fs -d %.1f s = %.1f s\n' "$m" "$k" "$r"
printf 'ratio %.2f (target <= 1.1)\n' "$(echo "scale=4; $v / $r" | bc)"
