#!/bin/bash
# Recursive walks of big trees, against the reference tools in the same run
# (best of three runs each, BENCH_RUNS to change; target ratio vmkit/tool
# <= 1.5; writing many small files on the host is noisy, hence the best):
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
best() {  # best of $RUNS runs of "$@" in seconds; $OUT is emptied before each
    local b=
    for _ in $(seq "$RUNS"); do
        rm -rf "$OUT"; mkdir -p "$OUT"
        local s e t
        s=$(date +%s.%N)
        "$@" >"$D/stdout" 2>"$D/err" || { echo "FAILED: $*"; cat "$D/err"; exit 1; }
        e=$(date +%s.%N)
        t=$(echo "$e - $s" | bc)
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi
    done
    echo "$b"
}

row() {  # label time ref-label ref-time
    printf '%-28s %7.2f s   %-30s %7.2f s   ratio %5.2f\n' "$1" "$2" "$3" "$4" "$(echo "$2 / $4" | bc -l)"
}

fail=0
count() {  # what got want
    if [ "$2" != "$3" ]; then echo "MISMATCH: $1: $2 files, expected $3"; fail=1; fi
}

# ---- ext4 ----
tree "$D/etree" "$N" 20 :
bytes=$(du -sb "$D/etree" | cut -f1)
OUT=$D/out
s=$(date +%s.%N)
mke2fs -q -F -t ext4 -N $((N + 1000)) -d "$D/etree" "$D/e.img" $((bytes * 3 / 1048576 + 256))M >/dev/null || exit 1
e=$(date +%s.%N)
echo "ext4: $N files in 40 directories, $((bytes / 1048576)) MiB (mke2fs -d took $(echo "$e - $s" | bc) s)"
# One debugfs session listing every directory: the same work as ls -R.
(cd "$D/etree" && find . -type d | sed 's|^\.||; s|^$|/|; s|^|ls -l |') >"$D/ls.cmd"
listing() { debugfs -f "$D/ls.cmd" "$D/e.img" >"$OUT/l" 2>/dev/null; }
t1=$(best listing)
t2=$(best sh -c "'$VMKIT' fs ls -lR '$D/e.img:/' >'$OUT/l'")
count "vmkit ls -lR" "$(grep -c ':2,S$' "$OUT/l")" "$N"
row "vmkit fs ls -lR" "$t2" "debugfs ls -l (every dir)" "$t1"
t3=$(best "$VMKIT" fs ls -R "$D/e.img:/")
row "vmkit fs ls -R" "$t3" "debugfs ls -l (every dir)" "$t1"
t1=$(best debugfs -R "rdump / $OUT" "$D/e.img")
count "debugfs rdump" "$(find "$OUT" -type f | wc -l)" "$N"
t2=$(best "$VMKIT" fs get -r "$D/e.img:/" "$OUT")
count "vmkit get -r" "$(find "$OUT" -type f | wc -l)" "$N"
diff -r "$D/etree" "$OUT/root" -x lost+found >/dev/null || { echo "MISMATCH: get -r differs from the source"; fail=1; }
row "vmkit fs get -r" "$t2" "debugfs rdump" "$t1"
t3=$(best sh -c "'$VMKIT' fs get -r '$D/e.img:/' - >'$OUT/t.tar'")
count "vmkit get -r - (tar)" "$(tar tf "$OUT/t.tar" | grep -c ':2,S$')" "$N"
row "vmkit fs get -r - (tar)" "$t3" "debugfs rdump" "$t1"
rm -rf "$D/etree" "$D/e.img" "$OUT"

# ---- FAT32 ----
tree "$D/ftree" "$NF" 20 ";"
fbytes=$(du -sb "$D/ftree" | cut -f1)
truncate -s $((fbytes * 3 / 1048576 + 300))M "$D/f.img"
mkfs.fat -F 32 "$D/f.img" >/dev/null || exit 1
s=$(date +%s.%N)
mcopy -s -i "$D/f.img" "$D/ftree"/* ::/ || { echo "FAILED: mcopy -s"; exit 1; }
e=$(date +%s.%N)
echo "FAT32: $NF files in 40 directories, $((fbytes / 1048576)) MiB (mcopy -s took $(echo "$e - $s" | bc) s)"
t1=$(best sh -c "mdir -/ -i '$D/f.img' ::/ >'$OUT/l'")
t2=$(best sh -c "'$VMKIT' fs ls -lR '$D/f.img:/' >'$OUT/l'")
count "vmkit ls -lR" "$(grep -c ';2,S$' "$OUT/l")" "$NF"
row "vmkit fs ls -lR" "$t2" "mdir -/" "$t1"
t1=$(best mcopy -s -i "$D/f.img" ::/ "$OUT")
count "mcopy -s" "$(find "$OUT" -type f | wc -l)" "$NF"
t2=$(best "$VMKIT" fs get -r "$D/f.img:/" "$OUT")
count "vmkit get -r" "$(find "$OUT" -type f | wc -l)" "$NF"
diff -r "$D/ftree" "$OUT/root" >/dev/null || { echo "MISMATCH: get -r differs from the source"; fail=1; }
row "vmkit fs get -r" "$t2" "mcopy -s" "$t1"
exit $fail
