#!/bin/bash
# Populate an ext4 from a tree of about 20,000 files (a copy of part of
# /usr/share): `vmkit fs mkfs -t ext4 --from DIR` against
# `mke2fs -t ext4 -d DIR`, same image size, best of two runs each.
# Prints both times and the ratio vmkit/mke2fs (target <= 1.0), and checks
# the vmkit result with e2fsck -fn.
#   BENCH_FILES=5000 bash bench/ext4_populate.sh   for a quicker run.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMKIT=${VMKIT:-$TOP/build/vmkit}
N=${BENCH_FILES:-20000}
D=$(mktemp -d "${TMPDIR:-/tmp}/vmkit-bench.XXXXXX")
trap 'rm -rf "$D"' EXIT

mkdir -p "$D/tree"
# The first N regular files (and their directories, links) of /usr/share.
(cd /usr/share && find . \( -type f -o -type l \) -print 2>/dev/null | head -n "$N" |
    cpio -pdm --quiet "$D/tree" 2>/dev/null)
files=$(find "$D/tree" | wc -l)
bytes=$(du -sb "$D/tree" | cut -f1)
size=$(( (bytes * 2 / 1048576 + 256) ))M

best() {  # best of two runs of "$@" in seconds; removes $D/img between runs
    local b=
    for i in 1 2; do
        rm -f "$D/img"; truncate -s "$size" "$D/img"
        local s e
        s=$(date +%s.%N)
        "$@" >/dev/null 2>"$D/err" || { echo "FAILED: $*"; cat "$D/err"; exit 1; }
        e=$(date +%s.%N)
        local t; t=$(echo "$e - $s" | bc)
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi
    done
    echo "$b"
}

echo "ext4 populate: $files entries, $((bytes / 1048576)) MiB, image $size"
tm=$(best mke2fs -q -F -t ext4 -d "$D/tree" "$D/img")
tv=$(best "$VMKIT" fs mkfs -t ext4 --from "$D/tree" "$D/img")
if e2fsck -fn "$D/img" >"$D/fsck" 2>&1; then fsck=clean; else fsck="NOT CLEAN"; tail -5 "$D/fsck"; fi
printf 'mke2fs -d:          %6.2f s\n' "$tm"
printf 'vmkit mkfs --from:  %6.2f s   (e2fsck -fn %s)\n' "$tv" "$fsck"
printf 'ratio vmkit/mke2fs: %6.2f    (target <= 1.0)\n' "$(echo "$tv / $tm" | bc -l)"
[ "$fsck" = clean ]
