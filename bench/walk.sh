#!/bin/bash
# Recursive walks of big trees, against the reference tools in the same run
# (best of three runs each, BENCH_RUNS to change; target ratio vmkit/tool
# <= 1.5; writing many small files on the host is noisy, hence the best,
# and the CPU time, user + system, is shown too):
#   ext4, 100,000 small files (maildir-like: 20 folders of 5,000), built by
#     mke2fs -d:  `vmkit fs ls -R` against one debugfs session listing every
#     directory (debugfs has no recursive ls), and `vmkit fs get -r` (and
#     the tar form) against `debugfs -R "rdump / OUT"`;
#   FAT32, 20,000 small files (20 folders of 1,000), built by mcopy -s:
#     `vmkit fs ls -R` against `mdir -/` and `vmkit fs get -r` against
#     `mcopy -s`.
# Checks that both sides saw every file.
#   BENCH_FILES=20000 BENCH_FAT_FILES=4000 bash bench/walk.sh   for a quicker run.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMKIT=${VMKIT:-$TOP/build/vmkit}
N=${BENCH_FILES:-100000}
NF=${BENCH_FAT_FILES:-20000}
D=$(mktemp -d "${TMPDIR:-/tmp}/vmkit-bench.XXXXXX")
trap 'rm -rf "$D"' EXIT
export MTOOLS_SKIP_CHECK=1

# tree DIR FILES FOLDERS SEP: FOLDERS folders of FILES/FOLDERS small
# messages (200 bytes to 4 KiB), half of each in cur/, half in new/, named
# as maildir does (SEP ':', or ';' where ':' is not allowed, as on FAT).
tree() {
    python3 - "$@" <<'EOF'
import os, random, sys
top, n, folders, sep = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
random.seed(1)
body = os.urandom(4096)
for i in range(n):
    d = os.path.join(top, 'folder%02d' % (i % folders), 'new' if (i // folders) % 2 else 'cur')
    if i < 2 * folders:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, '%d.M%dP%d.host,S=%d%s2,S' % (1700000000 + i, i, i % 997, i, sep)), 'wb') as fh:
        fh.write(body[:random.randint(200, 4096)])
EOF
}

RUNS=${BENCH_RUNS:-3}
# best "$@": $RUNS runs; sets RES="WALL CPU", the least of each in seconds
# (CPU is user + system, which a busy machine disturbs less), and OUT, the
# last run's directory.  Each run gets a new empty directory, @OUT@ in the
# arguments: files are removed only between sections, since creating files
# where many were just deleted costs the host's ext4 more (its
# recently_deleted() check), which would favour whichever tool ran first.
NOUT=0
best() {
    local bw= bc= TIMEFORMAT='%R %U %S' w u sy c i
    for _ in $(seq "$RUNS"); do
        NOUT=$((NOUT + 1)); OUT=$D/out/$NOUT; mkdir -p "$OUT"
        local args=()
        for i in "$@"; do args+=("${i//@OUT@/$OUT}"); done
        { time "${args[@]}" >"$D/stdout" 2>"$D/err"; } 2>"$D/time" || { echo "FAILED: ${args[*]}"; cat "$D/err"; exit 1; }
        read -r w u sy <"$D/time"
        c=$(echo "$u + $sy" | bc)
        if [ -z "$bw" ] || [ "$(echo "$w < $bw" | bc)" = 1 ]; then bw=$w; fi
        if [ -z "$bc" ] || [ "$(echo "$c < $bc" | bc)" = 1 ]; then bc=$c; fi
    done
    RES="$bw $bc"
}

row() {  # label "wall cpu" ref-label "wall cpu"
    set -- "$1" ${2} "$3" ${4}
    printf '%-26s %7.2f s (cpu %6.2f)  %-27s %7.2f s (cpu %6.2f)  ratio %5.2f (cpu %5.2f)\n' \
        "$1" "$2" "$3" "$4" "$5" "$6" "$(echo "$2 / $5" | bc -l)" "$(echo "$3 / ($6 + 0.001)" | bc -l)"
}

fail=0
count() {  # what got want
    if [ "$2" != "$3" ]; then echo "MISMATCH: $1: $2 files, expected $3"; fail=1; fi
}

# ---- ext4 ----
tree "$D/etree" "$N" 20 :
bytes=$(du -sb "$D/etree" | cut -f1)
s=$(date +%s.%N)
mke2fs -q -F -t ext4 -N $((N + 1000)) -d "$D/etree" "$D/e.img" $((bytes * 3 / 1048576 + 256))M >/dev/null || exit 1
e=$(date +%s.%N)
echo "ext4: $N files in 40 directories, $((bytes / 1048576)) MiB (mke2fs -d took $(echo "$e - $s" | bc) s)"
# One debugfs session listing every directory: the same work as ls -R.
(cd "$D/etree" && find . -type d | sed 's|^\.||; s|^$|/|; s|^|ls -l |') >"$D/ls.cmd"
best sh -c "debugfs -f '$D/ls.cmd' '$D/e.img' >'@OUT@/l' 2>/dev/null"; t1=$RES
best sh -c "'$VMKIT' fs ls -lR '$D/e.img:/' >'@OUT@/l'"; t2=$RES
count "vmkit ls -lR" "$(grep -c ':2,S$' "$OUT/l")" "$N"
row "vmkit fs ls -lR" "$t2" "debugfs ls -l (every dir)" "$t1"
best "$VMKIT" fs ls -R "$D/e.img:/"; t3=$RES
row "vmkit fs ls -R" "$t3" "debugfs ls -l (every dir)" "$t1"
best debugfs -R "rdump / @OUT@" "$D/e.img"; t1=$RES
count "debugfs rdump" "$(find "$OUT" -type f | wc -l)" "$N"
best "$VMKIT" fs get -r "$D/e.img:/" "@OUT@"; t2=$RES
count "vmkit get -r" "$(find "$OUT" -type f | wc -l)" "$N"
diff -r "$D/etree" "$OUT/root" -x lost+found >/dev/null || { echo "MISMATCH: get -r differs from the source"; fail=1; }
row "vmkit fs get -r" "$t2" "debugfs rdump" "$t1"
best sh -c "'$VMKIT' fs get -r '$D/e.img:/' - >'@OUT@/t.tar'"; t3=$RES
count "vmkit get -r - (tar)" "$(tar tf "$OUT/t.tar" | grep -c ':2,S$')" "$N"
row "vmkit fs get -r - (tar)" "$t3" "debugfs rdump" "$t1"
rm -rf "$D/etree" "$D/e.img" "$D/out"

# ---- FAT32 ----
tree "$D/ftree" "$NF" 20 ";"
fbytes=$(du -sb "$D/ftree" | cut -f1)
truncate -s $((fbytes * 3 / 1048576 + 300))M "$D/f.img"
mkfs.fat -F 32 "$D/f.img" >/dev/null || exit 1
s=$(date +%s.%N)
mcopy -s -i "$D/f.img" "$D/ftree"/* ::/ || { echo "FAILED: mcopy -s"; exit 1; }
e=$(date +%s.%N)
echo "FAT32: $NF files in 40 directories, $((fbytes / 1048576)) MiB (mcopy -s took $(echo "$e - $s" | bc) s)"
best sh -c "mdir -/ -i '$D/f.img' ::/ >'@OUT@/l'"; t1=$RES
best sh -c "'$VMKIT' fs ls -lR '$D/f.img:/' >'@OUT@/l'"; t2=$RES
count "vmkit ls -lR" "$(grep -c ';2,S$' "$OUT/l")" "$NF"
row "vmkit fs ls -lR" "$t2" "mdir -/" "$t1"
best mcopy -s -i "$D/f.img" ::/ "@OUT@"; t1=$RES
count "mcopy -s" "$(find "$OUT" -type f | wc -l)" "$NF"
best "$VMKIT" fs get -r "$D/f.img:/" "@OUT@"; t2=$RES
count "vmkit get -r" "$(find "$OUT" -type f | wc -l)" "$NF"
diff -r "$D/ftree" "$OUT/root" >/dev/null || { echo "MISMATCH: get -r differs from the source"; fail=1; }
row "vmkit fs get -r" "$t2" "mcopy -s" "$t1"
exit $fail
