#!/bin/bash
# vmkit backup init --encrypt: AES-256-GCM chunks and snapshots, chunks
# named by keyed HMAC-SHA-256.  Checked against an independent reader of
# the README's format (tests/backup_read.py: Python's hashlib scrypt/hmac
# and python3-cryptography's AES-GCM), which must rebuild the same disk as
# `backup restore`; nothing in the repository reads as the plaintext
# (no zstd frame, no JSON, no chunk name shared with a plain repository of
# the same disk); a wrong or missing passphrase, an altered config, a
# swapped or flipped chunk and a flipped snapshot are each refused.
. "$(dirname "$0")/lib.sh"
need e2fsck sfdisk qemu-img zstd /usr/bin/python3 || { finish; exit; }
ok "python3-cryptography (scripts/deps.sh)" /usr/bin/python3 -c 'import cryptography'
unset VMKIT_BACKUP_PASSPHRASE
pass() { VMKIT_BACKUP_PASSPHRASE=$1; export VMKIT_BACKUP_PASSPHRASE; }

# --- a disk: MBR, ext4 with files, FAT32 ---
D=$T/disk.qcow2
head -c 3000000 /dev/urandom >"$T/blob"
printf 'hello from an encrypted backup\n' >"$T/hello"
ok "a qcow2 disk with ext4 and FAT32 partitions and files" sh -c "
    '$VMKIT' img create -f qcow2 '$D' 96M >/dev/null && '$VMKIT' part init '$D' mbr &&
    '$VMKIT' part add '$D' --size 48M --type linux && '$VMKIT' part add '$D' --type fat32 &&
    '$VMKIT' fs mkfs -t ext4 '$D:1' && '$VMKIT' fs mkfs -t vfat -F 32 '$D:2' &&
    '$VMKIT' fs put '$T/blob' '$D:1:/blob' && '$VMKIT' fs put '$T/hello' '$D:1:/hello' &&
    '$VMKIT' fs put '$T/hello' '$D:2:/hello.txt'"

# --- init ---
E=$T/enc
fails_with "init --encrypt with no passphrase and no terminal: refused" 1 "no terminal to ask on" \
    setsid "$VMKIT" backup init --encrypt "$E"
ok "... and no repository made" test ! -e "$E"
fails_with "--key-file without --encrypt: a usage error" 2 "--key-file is for --encrypt" \
    vmkit backup init --key-file /etc/hostname "$E"
VMKIT_BACKUP_PASSPHRASE= fails_with "an empty passphrase: refused" 1 "empty passphrase" \
    vmkit backup init --encrypt "$E"
ok "... and no repository made" test ! -e "$E"
pass 'correct horse battery staple'
ok "backup init --encrypt (passphrase from VMKIT_BACKUP_PASSPHRASE)" vmkit backup init --encrypt "$E"
run_ok cfg cat "$E/config"
has "config: aes-256-gcm" "$cfg" '"encryption": "aes-256-gcm"'
has "config: chunks named by hmac-sha256" "$cfg" '"hash": "hmac-sha256"'
has "config: scrypt" "$cfg" '"name": "scrypt"'
ok "config: a 92-byte sealed key, a 32-byte salt" /usr/bin/python3 -c '
import json, sys; c = json.load(open(sys.argv[1]))
assert len(bytes.fromhex(c["key"])) == 92 and len(bytes.fromhex(c["kdf"]["salt"])) == 32' "$E/config"
P=$T/plain
ok "a plain repository of the same disk" sh -c "'$VMKIT' backup init '$P' &&
    '$VMKIT' backup save --name d '$D' '$P' >/dev/null"

# --- save, list, restore ---
run_ok id vmkit backup save --name d "$D" "$E"
has "save prints the snapshot id" "$id" "Z-"
run_ok list vmkit backup list "$E"
has "list shows it (the passphrase opens the snapshot)" "$list" "$id"
nchunks=$(find "$E/chunks" -type f | wc -l)
ok "chunks stored ($nchunks)" test "$nchunks" -gt 3
eq "no chunk name in common with the plain repository (names are keyed)" \
    "$(comm -12 <(cd "$E/chunks" && find . -type f | sort) <(cd "$P/chunks" && find . -type f | sort) | wc -l)" 0
eq "no chunk file is a zstd frame" "$(find "$E/chunks" -type f -exec sh -c 'zstd -tq "$1" 2>/dev/null && echo "$1"' _ {} \; | wc -l)" 0
fails "the snapshot file is not readable JSON" 1 /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1], "rb"))' "$E/snapshots/$id.json"
fails "the snapshot file does not hold the disk's name in clear" 1 grep -a -F 'disk.qcow2' "$E/snapshots/$id.json"
ok "backup restore" vmkit backup restore "$E" "$id" "$T/r.raw"
ok "backup restore of the plain repository" vmkit backup restore "$P" d "$T/p.raw"
ok "both restores are the same disk" cmp "$T/r.raw" "$T/p.raw"
ok "the restored ext4 is clean" e2fsck -fn "$T/r.raw?offset=$((2048 * 512))"
run_ok got vmkit backup cat "$E" "$id:1:/hello"
eq "backup cat reads a file through the encrypted chunks" "$got" "hello from an encrypted backup"
ok "the reader written from the README alone rebuilds the same disk" \
    /usr/bin/python3 "$TOP/tests/backup_read.py" "$E" "$id" "$T/py.raw"
ok "... byte for byte" cmp "$T/py.raw" "$T/r.raw"
ok "... and the plain repository too" /usr/bin/python3 "$TOP/tests/backup_read.py" "$P" \
    "$(basename "$(ls "$P"/snapshots/*.json)" .json)" "$T/pyp.raw"
ok "... byte for byte" cmp "$T/pyp.raw" "$T/p.raw"
ok "verify --read-data: all well" vmkit backup verify --read-data "$E"

# --- an incremental save keeps the old one readable ---
printf 'second version\n' >"$T/hello2"
ok "change a file" vmkit fs put "$T/hello2" "$D:1:/hello"
run_ok id2 vmkit backup save --name d "$D" "$E"
n2=$(find "$E/chunks" -type f | wc -l)
ok "the second save adds few chunks ($nchunks -> $n2)" test "$n2" -lt $((nchunks + 3))
run_ok got vmkit backup cat "$E" "$id:1:/hello"
eq "the first snapshot still reads the old file" "$got" "hello from an encrypted backup"
run_ok got vmkit backup cat "$E" d:1:/hello
eq "the newest of name d reads the new one" "$got" "second version"

# --- the passphrase ---
pass wrong
fails_with "a wrong passphrase: refused" 1 "wrong passphrase" vmkit backup list "$E"
fails_with "... for save too" 1 "wrong passphrase" vmkit backup save "$D" "$E"
unset VMKIT_BACKUP_PASSPHRASE
fails_with "no passphrase and no terminal: refused" 1 "no terminal to ask on" \
    setsid "$VMKIT" backup list "$E"
printf 'correct horse battery staple\n' >"$T/keyfile"
ok "--key-file (a final newline dropped) opens it" vmkit backup verify --key-file "$T/keyfile" "$E"
fails_with "--key-file of a missing file: named" 1 "$T/nokey" vmkit backup list --key-file "$T/nokey" "$E"
head -c 64 /dev/urandom >"$T/randkey"
K=$T/keyrepo
ok "init --encrypt --key-file (64 random bytes)" vmkit backup init --encrypt --key-file "$T/randkey" "$K"
ok "save with that key file" sh -c "'$VMKIT' backup save --key-file '$T/randkey' '$D' '$K' >/dev/null"
pass 'correct horse battery staple'
ok "restore with it" vmkit backup restore --key-file "$T/randkey" "$K" latest "$T/k.raw"
ok "... the disk as saved" sh -c "'$VMKIT' backup restore '$E' '$id2' '$T/r2.raw' && cmp '$T/k.raw' '$T/r2.raw'"
fails_with "another repository's passphrase does not open it" 1 "wrong passphrase" \
    vmkit backup list "$K"

# --- the passphrase typed on a terminal (a pty), not echoed ---
cat >"$T/typein.py" <<'EOF'
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
for line in os.environ["TYPE"].split("|"):
    time.sleep(0.3)
    os.write(fd, line.encode() + b"\n")
while True:
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
EOF
unset VMKIT_BACKUP_PASSPHRASE
TYPE='typed secret|typed secret' run_ok out /usr/bin/python3 "$T/typein.py" "$VMKIT" backup init --encrypt "$T/tty"
has "init asks for the passphrase on the terminal" "$out" "Passphrase for $T/tty:"
has "... and again" "$out" "Again:"
case $out in *"typed secret"*) echo "echoed: $out" >"$T/.out"; _report 1 "... never echoed" "$T/.out" ;;
    *) _report 0 "... never echoed" ;; esac
TYPE='typed secret' ok "the typed passphrase opens it" /usr/bin/python3 "$T/typein.py" "$VMKIT" backup list "$T/tty"
TYPE='typed secreT' fails "a mistyped one does not" 1 /usr/bin/python3 "$T/typein.py" "$VMKIT" backup list "$T/tty"
TYPE='one|two' fails "init with two different passphrases: refused" 1 \
    /usr/bin/python3 "$T/typein.py" "$VMKIT" backup init --encrypt "$T/tty2"
ok "... and no repository made" test ! -e "$T/tty2"
pass 'correct horse battery staple'

# --- tampering ---
cp "$E/config" "$T/config.orig"
sed -i 's/"chunk_size": 1048576/"chunk_size": 2097152/' "$E/config"
fails_with "an altered chunk size in the config: refused" 1 "altered config" vmkit backup list "$E"
sed 's/"n": 32768/"n": 1073741824/' "$T/config.orig" >"$E/config"
fails_with "a hostile scrypt n: refused before any work" 1 "scrypt n 1073741824" vmkit backup list "$E"
cp "$T/config.orig" "$E/config"
# two chunks of the first snapshot (as the independent reader lists
# them), one's file copied over the other's
read -r c1 c2 < <(/usr/bin/python3 "$TOP/tests/backup_read.py" "$E" "$id" --list | head -2 | xargs)
ok "two chunk files to swap" test -n "$c1" -a -n "$c2"
cp "$c1" "$T/c1.orig"
cp "$c2" "$c1"
run_ok_fail() { "$@" >"$T/vout" 2>&1; echo $?; }
eq "verify --read-data: a chunk under another's name is bad (exit 1)" \
    "$(run_ok_fail "$VMKIT" backup verify --read-data "$E")" 1
has "... it fails authentication" "$(cat "$T/vout")" "fails authentication"
cp "$T/c1.orig" "$c1"
/usr/bin/python3 -c 'import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 1; open(p, "wb").write(b)' "$c1"
eq "verify --read-data: a flipped bit in a chunk is bad" \
    "$(run_ok_fail "$VMKIT" backup verify --read-data "$E")" 1
fails "restore refuses the damaged chunk" 1 vmkit backup restore "$E" "$id" "$T/bad.raw"
ok "... and leaves no image" test ! -e "$T/bad.raw" -a ! -e "$T/bad.raw.partial"
cp "$T/c1.orig" "$c1"
ok "the repaired chunk verifies again" vmkit backup verify --read-data "$E"
cp "$E/snapshots/$id.json" "$T/snap.orig"
/usr/bin/python3 -c 'import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[40] ^= 0x80; open(p, "wb").write(b)' "$E/snapshots/$id.json"
eq "verify: a flipped bit in a snapshot is bad" "$(run_ok_fail "$VMKIT" backup verify "$E")" 1
fails_with "info names the damaged snapshot" 1 "fails authentication" vmkit backup info "$E" "$id"
cp "$E/snapshots/$id.json" "$E/snapshots/20990101T000000_000000Z-00000000.json"
cp "$T/snap.orig" "$E/snapshots/$id.json"
fails_with "a snapshot file copied under another id: refused" 1 "fails authentication" \
    vmkit backup info "$E" 20990101T000000_000000Z-00000000
rm "$E/snapshots/20990101T000000_000000Z-00000000.json"

# --- prune, gc, export with the key ---
ok "prune --keep-last 1" sh -c "'$VMKIT' backup prune --keep-last 1 '$E' >/dev/null"
ok "gc" sh -c "'$VMKIT' backup gc '$E' >/dev/null"
ok "the kept snapshot verifies after gc" vmkit backup verify --read-data "$E"
ok "export to a Clonezilla directory from the encrypted repository" \
    vmkit backup export "$E" latest "$T/cz"
ok "... which has its partclone images" sh -c "ls '$T/cz' | grep -q 'sda1.ext4-ptcl-img.zst'"
finish
