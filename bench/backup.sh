#!/bin/bash
# vmkit backup against the anchors issue 14 names, in the same run, on a
# 2 GiB raw disk (MBR, one ext4 partition) 44 % full of mixed data (text,
# random bytes, repeated files, a few big ones):
#  (a) first backup: `vmkit backup save` against `partclone.ext4 -c |
#      zstd -3 -T2` of the same partition [throughput >= 2x, size no
#      bigger];
#  (b) incremental after changing ~100 MiB of files: vmkit's second save
#      against what `borg create` (zstd,3, the disk image as one file)
#      adds for the same change [added <= 1.1x borg's, time no slower];
#  (c) restore: `vmkit backup restore` against `zstd -dc | partclone.ext4
#      -r` [throughput >= 1.25x];
#  (d) one file out of the backup: `vmkit backup cat` [under 50 ms].
# Times are wall clock, the page cache's dirty pages written out before
# each (sync), best of BENCH_N (default 3) for (a), (c), (d).
#   BENCH_SIZE_MB=512 bash bench/backup.sh   for a quicker run;
#   BENCH_CHUNK=1M   the repository's chunk size (default: vmkit's).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMKIT=${VMKIT:-$TOP/build/vmkit}
N=${BENCH_N:-3}
SIZE_MB=${BENCH_SIZE_MB:-2048}
D=$(mktemp -d "${TMPDIR:-/var/tmp}/vmkit-bench.XXXXXX")
trap 'rm -rf "$D"' EXIT
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_BASE_DIR=$D/borghome
fail() { echo "FAILED: $*"; exit 1; }
for t in partclone.ext4 zstd borg; do command -v $t >/dev/null || fail "$t missing (scripts/deps.sh)"; done

# secs CMD...: wall seconds of CMD (its output discarded), after a sync
secs() {
    sync
    local s e
    s=$(date +%s%N)
    "$@" >/dev/null 2>"$D/err" || { cat "$D/err" >&2; echo 999; return; }
    e=$(date +%s%N)
    echo "scale=3; ($e - $s) / 1000000000" | bc
}
best() { sort -n | head -1; }
mib() { echo "scale=1; $1 / 1048576" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc; }

# --- the source tree and disk ---
python3 - "$D/tree" "$SIZE_MB" <<'PY'
import os, random, sys
root, mb = sys.argv[1], int(sys.argv[2])
r = random.Random(44)
want = mb * (1 << 20) * 44 // 100 * 95 // 100   # 44 % of the disk with ext4's metadata
text = b''.join(b'%08d the quick brown fox jumps over the lazy vmkit backup bench\n' % i
                for i in range(20000))
done, n = 0, 0
shared = r.randbytes(3 << 20)
while done < want:
    d = os.path.join(root, 'd%02d' % (n % 40))
    os.makedirs(d, exist_ok=True)
    kind = n % 10
    if kind < 5:                    # text, 4-400 KiB
        size = r.randrange(4 << 10, 400 << 10)
        o = r.randrange(len(text) - size)
        data = text[o:o + size]
    elif kind < 8:                  # random, 64 KiB-2 MiB
        data = r.randbytes(r.randrange(64 << 10, 2 << 20))
    elif kind < 9:                  # a copy of a shared file
        data = shared
    else:                           # big: 16-48 MiB, half random half text
        size = r.randrange(16 << 20, 48 << 20)
        data = r.randbytes(size // 2) + (text * (size // 2 // len(text) + 1))[:size // 2]
    with open(os.path.join(d, 'f%05d' % n), 'wb') as f:
        f.write(data)
    done += len(data)
    n += 1
print(n, done)
PY
DISK=$D/disk.raw
truncate -s "${SIZE_MB}M" "$DISK"
"$VMKIT" part init "$DISK" mbr >/dev/null && "$VMKIT" part add "$DISK" >/dev/null || fail "partition"
"$VMKIT" fs mkfs -t ext4 --from "$D/tree" "$DISK:1" >/dev/null || fail "mkfs --from"
rm -rf "$D/tree"
PART=$D/part.ext4       # partclone's source: the partition alone, as a block device would be
dd if="$DISK" of="$PART" bs=1M skip=1 conv=sparse status=none
used=$(dumpe2fs -h "$PART" 2>/dev/null | awk -F: '/^Block count/ {b=$2} /^Free blocks/ {f=$2} /^Block size/ {s=$2} END {print (b - f) * s}')
echo "backup: chunks ${BENCH_CHUNK:-of the default size}, ${SIZE_MB} MiB raw disk, ext4 $(mib "$used") MiB used ($((used * 100 / (SIZE_MB << 20))) %), load $(cut -d' ' -f1 /proc/loadavg)"

# --- (a) first backup ---
: >"$D/va"; : >"$D/pa"
for _ in $(seq "$N"); do
    rm -rf "$D/repo"; "$VMKIT" backup init ${BENCH_CHUNK:+--chunk-size "$BENCH_CHUNK"} "$D/repo" >/dev/null
    secs "$VMKIT" backup save "$DISK" "$D/repo" >>"$D/va"
    rm -f "$D/p.img.zst"
    secs sh -c "partclone.ext4 -q -c -s '$PART' -o - 2>/dev/null | zstd -3 -T2 -q -o '$D/p.img.zst'" >>"$D/pa"
done
! grep -q '^999$' "$D/va" "$D/pa" || fail "first backup"
va=$(best <"$D/va"); pa=$(best <"$D/pa")
vsz=$(du -sb "$D/repo/chunks" | cut -f1); psz=$(stat -c %s "$D/p.img.zst")
echo "first backup: vmkit ${va}s ($(mib "$vsz") MiB)  partclone|zstd -3 -T2 ${pa}s ($(mib "$psz") MiB)"
echo "  throughput ratio vmkit/partclone $(ratio "$pa" "$va") (target >= 2), size ratio $(ratio "$vsz" "$psz") (target <= 1)"

# --- (b) incremental after changing ~100 MiB of files ---
borg init -e none "$D/borg" || fail "borg init"
secs borg create --compression zstd,3 "$D/borg::first" "$DISK" >"$D/bfirst"
before=$(du -sb "$D/repo/chunks" | cut -f1)
head -c $((40 << 20)) /dev/urandom >"$D/new1"
python3 -c 'import sys; sys.stdout.buffer.write(b"".join(b"%08d changed text for the incremental backup\n" % i for i in range(900000)))' >"$D/new2"
head -c $((20 << 20)) /dev/urandom >"$D/new3"
"$VMKIT" fs put "$D/new1" "$DISK:1:/d01/new1" && "$VMKIT" fs put "$D/new2" "$DISK:1:/d02/new2" &&
    "$VMKIT" fs put "$D/new3" "$DISK:1:/d03/f00003" && "$VMKIT" fs rm "$DISK:1:/d04/f00004" ||
    fail "changing files"
changed=$(( $(stat -c %s "$D/new1") + $(stat -c %s "$D/new2") + $(stat -c %s "$D/new3") ))
vb=$(secs "$VMKIT" backup save "$DISK" "$D/repo")
vadd=$(( $(du -sb "$D/repo/chunks" | cut -f1) - before ))
bbefore=$(du -sb "$D/borg" | cut -f1)
bb=$(secs borg create --compression zstd,3 "$D/borg::second" "$DISK")
badd=$(( $(du -sb "$D/borg" | cut -f1) - bbefore ))
echo "incremental after $(mib "$changed") MiB of files changed: vmkit ${vb}s, added $(mib "$vadd") MiB;" \
     "borg create ${bb}s, added $(mib "$badd") MiB (its first: $(cat "$D/bfirst")s)"
echo "  added ratio vmkit/borg $(ratio "$vadd" "$badd") (target <= 1.1), time ratio $(ratio "$vb" "$bb") (target <= 1)"

# --- (c) restore ---
: >"$D/vr"; : >"$D/pr"
for _ in $(seq "$N"); do
    rm -f "$D/r.raw"
    secs "$VMKIT" backup restore "$D/repo" latest "$D/r.raw" >>"$D/vr"
    rm -f "$D/r.ext4"; truncate -s "$(stat -c %s "$PART")" "$D/r.ext4"   # partclone wants it sized
    secs sh -c "zstd -dcq '$D/p.img.zst' | partclone.ext4 -q -r -s - -O '$D/r.ext4' >/dev/null 2>&1" >>"$D/pr"
done
! grep -q '^999$' "$D/vr" "$D/pr" || fail "restore"
e2fsck -fn "$D/r.ext4" >/dev/null 2>&1 || fail "partclone's restore does not pass e2fsck"
vr=$(best <"$D/vr"); pr=$(best <"$D/pr")
echo "restore: vmkit ${vr}s  zstd -dc | partclone.ext4 -r ${pr}s  throughput ratio $(ratio "$pr" "$vr") (target >= 1.25)"

# --- (d) one file ---
f=$("$VMKIT" fs ls "$DISK:1:/d07" | head -1)
: >"$D/vc"
for _ in $(seq 10); do
    s=$(date +%s%N)
    "$VMKIT" backup cat "$D/repo" "latest:1:/d07/$f" >/dev/null || fail "backup cat"
    e=$(date +%s%N)
    echo "scale=1; ($e - $s) / 1000000" | bc >>"$D/vc"
done
echo "backup cat of /d07/$f: best $(best <"$D/vc") ms of 10 (target < 50 ms)"
