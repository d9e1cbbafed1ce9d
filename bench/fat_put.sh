#!/bin/bash
# Put 2,000 small files (a recursive tree: 20 directories of 100 files,
# long names) into a fresh FAT32 image: `vmkit fs put -r` against
# `mcopy -s`, same image, best of two runs each.  Prints both times and the
# ratio vmkit/mcopy (target <= 1.0) and checks the vmkit result with
# fsck.fat -n.
#   BENCH_FILES=500 bash bench/fat_put.sh   for a quicker run.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMKIT=${VMKIT:-$TOP/build/vmkit}
N=${BENCH_FILES:-2000}
D=$(mktemp -d "${TMPDIR:-/tmp}/vmkit-bench.XXXXXX")
trap 'rm -rf "$D"' EXIT
export MTOOLS_SKIP_CHECK=1

mkdir -p "$D/tree"
i=0
while [ $i -lt "$N" ]; do
    d="$D/tree/Directory number $((i / 100))"
    mkdir -p "$d"
    head -c $((100 + i % 3000)) /dev/urandom >"$d/Some file with a long name $i.dat"
    i=$((i + 1))
done

best() {  # best of two runs of "$@" in seconds, each on a fresh image
    local b=
    for _ in 1 2; do
        rm -f "$D/img"
        truncate -s 256M "$D/img"
        mkfs.fat -F 32 "$D/img" >/dev/null || exit 1
        local s e t
        s=$(date +%s.%N)
        "$@" >/dev/null 2>"$D/err" || { echo "FAILED: $*"; cat "$D/err"; exit 1; }
        e=$(date +%s.%N)
        t=$(echo "$e - $s" | bc)
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi
    done
    echo "$b"
}

echo "fat put: $N files in $(( (N + 99) / 100 )) directories, FAT32 256M"
tm=$(best mcopy -s -i "$D/img" "$D/tree" ::/)
tv=$(best "$VMKIT" fs put -r "$D/tree" "$D/img:/tree")
if fsck.fat -n "$D/img" >"$D/fsck" 2>&1; then fsck=clean; else fsck="NOT CLEAN"; tail -5 "$D/fsck"; fi
n=$(mdir -/ -b -i "$D/img" ::/tree | grep -c '\.dat$')
echo "mcopy -s:        ${tm}s"
echo "vmkit fs put -r: ${tv}s (fsck.fat: $fsck, files seen by mdir: $n)"
echo "ratio vmkit/mcopy: $(echo "scale=2; $tv / $tm" | bc)"
[ "$fsck" = clean ] && [ "$n" = "$N" ]
