#!/bin/bash
# vmkit img snapshot -c|-l|-a|-d on qcow2 internal snapshots, checked
# against qemu-img in both directions: a snapshot vmkit takes is listed,
# converted and applied by qemu-img with the right data, and the other
# way round; writes after a snapshot (by vmkit and by qemu-io) leave it
# unchanged (copy-on-write); delete gives the space back; qemu-img check
# is clean after every operation.  Also v2 images, 512-byte clusters,
# compressed clusters, many snapshots, refusals (raw image, duplicate or
# unknown name, a locked image, too narrow refcounts), and crash safety of
# create, apply and delete (killed before each write, qemu-img check must
# never see a corruption and the image is the old or the new one).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/img_lib.sh"
. "$(dirname "$0")/crash_lib.sh"
cd "$T" || exit 1
VKIO=$(dirname "$VMKIT")/tools/vkio
need qemu-img qemu-io || { finish; exit; }
qcow2_ok

# qio IMG CMD...: qemu-io commands on IMG, all must succeed (qemu-io
# exits 0 even when a read -P finds other bytes: look for its message).
qio() {
    _qi=$1; shift
    _qa=()
    for _c in "$@"; do _qa+=(-c "$_c"); done
    qemu-io -f qcow2 "${_qa[@]}" "$_qi" >"$T/.qio" 2>&1 && ! grep -qE 'Pattern verification failed|error|failed' "$T/.qio"
}
# clean IMG: qemu-img check finds nothing at all (no leaks either).
clean() { ok "$2qemu-img check clean" qemu-img check -q "$1"; }
# nsnaps IMG: how many snapshots qemu-img lists.
nsnaps() { qemu-img info --output=json "$1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("snapshots", [])))'; }
# tags IMG: the snapshot tags qemu-img lists, space-separated.
tags() { qemu-img info --output=json "$1" | python3 -c 'import json,sys; print(" ".join(s["name"] for s in json.load(sys.stdin).get("snapshots", [])))'; }

# ---- vmkit creates, qemu-img reads and applies ----
ok "create a.qcow2" qemu-img create -q -f qcow2 a.qcow2 16M
ok "qemu-io writes 0x11 and 0x22" qio a.qcow2 'write -P 0x11 0 3M' 'write -P 0x22 12M 1M'
ok "reference copy before the snapshot" qemu-img convert -O raw a.qcow2 before.raw
ok "vmkit img snapshot -c s1" vmkit img snapshot -c s1 a.qcow2
clean a.qcow2 "after vmkit -c: "
eq "qemu-img lists vmkit's snapshot" "$(tags a.qcow2)" s1
run_ok ql qemu-img snapshot -l a.qcow2
run_ok vl vmkit img snapshot -l a.qcow2
eq "vmkit -l prints what qemu-img snapshot -l prints" "$vl" "$ql"
run_ok vj vmkit img snapshot -l --json a.qcow2
run_ok qj qemu-img info --output=json a.qcow2
eq "vmkit -l --json has qemu-img info's snapshot fields" \
    "$(echo "$vj" | python3 -c 'import json,sys; print(json.load(sys.stdin))')" \
    "$(echo "$qj" | python3 -c 'import json,sys; print(json.load(sys.stdin)["snapshots"])')"
run_ok vi vmkit img info --json a.qcow2
eq "vmkit img info --json lists the snapshots as qemu-img info" \
    "$(echo "$vi" | python3 -c 'import json,sys; print(json.load(sys.stdin)["snapshots"])')" \
    "$(echo "$qj" | python3 -c 'import json,sys; print(json.load(sys.stdin)["snapshots"])')"
run_ok vh vmkit img info a.qcow2
run_ok qh qemu-img info a.qcow2
eq "vmkit img info prints qemu-img's snapshot table" "$(echo "$vh" | sed -n '/^Snapshot list:/,/^Format/p')" \
    "$(echo "$qh" | sed -n '/^Snapshot list:/,/^Format/p')"
# writes after the snapshot: by qemu-io and by vmkit's own write path
ok "qemu-io overwrites 1M at 1M with 0x33" qio a.qcow2 'write -P 0x33 1M 1M'
ok "vkio (vmkit's write path) overwrites 64k at 12M" sh -c "echo 'w 12582912 65536 68' | '$VKIO' a.qcow2 qcow2"
clean a.qcow2 "after writes over the snapshot: "
ok "vmkit img check agrees" vmkit img check a.qcow2
ok "qemu-img converts snapshot s1" qemu-img convert -O raw -l snapshot.name=s1 a.qcow2 s1.raw
ok "snapshot s1 still holds the data of before (copy-on-write)" cmp before.raw s1.raw
ok "qemu-img snapshot -a s1" qemu-img snapshot -a s1 a.qcow2
ok "qemu-img applied vmkit's snapshot: old data back" qemu-img compare -f qcow2 -F raw a.qcow2 before.raw
clean a.qcow2 "after qemu-img -a: "

# ---- qemu-img creates, vmkit applies ----
ok "qemu-io writes 0x55 at 8M" qio a.qcow2 'write -P 0x55 8M 2M'
ok "reference copy for q1" qemu-img convert -O raw a.qcow2 q1.raw
ok "qemu-img snapshot -c q1" qemu-img snapshot -c q1 a.qcow2
eq "vmkit -l lists qemu-img's snapshot too" "$(vmkit img snapshot -l a.qcow2 | awk 'NR>2 {print $2}' | tr '\n' ' ')" "s1 q1 "
ok "qemu-io writes 0x66 over 8M" qio a.qcow2 'write -P 0x66 7M 4M'
ok "vmkit img snapshot -a q1" vmkit img snapshot -a q1 a.qcow2
clean a.qcow2 "after vmkit -a: "
ok "vmkit applied qemu-img's snapshot: data of q1 back" qemu-img compare -f qcow2 -F raw a.qcow2 q1.raw
ok "qemu-io sees 0x55 at 8M after vmkit -a" qio a.qcow2 'read -P 0x55 8M 2M'
ok "vmkit applies its own s1 by ID 1" vmkit img snapshot -a 1 a.qcow2
ok "s1's data back" qemu-img compare -f qcow2 -F raw a.qcow2 before.raw
clean a.qcow2 "after vmkit -a 1: "
ok "writes after vmkit -a do not touch s1" qio a.qcow2 'write -P 0x77 0 4M'
ok "qemu-img converts s1 after those writes" qemu-img convert -O raw -l snapshot.name=s1 a.qcow2 s1b.raw
ok "s1 unchanged" cmp before.raw s1b.raw
clean a.qcow2 "after writes: "

# ---- delete frees what only the snapshot used ----
ok "vmkit img snapshot -d s1" vmkit img snapshot -d s1 a.qcow2
clean a.qcow2 "after vmkit -d: "
eq "qemu-img sees s1 gone" "$(tags a.qcow2)" q1
ok "q1 still applies in qemu-img after the delete" qemu-img convert -O raw -l snapshot.name=q1 a.qcow2 q1b.raw
ok "q1's data intact" cmp q1.raw q1b.raw
ok "vmkit img snapshot -d q1" vmkit img snapshot -d q1 a.qcow2
clean a.qcow2 "after deleting the last: "
eq "no snapshots left" "$(nsnaps a.qcow2)" 0
none "vmkit -l of an image without snapshots prints nothing" vmkit img snapshot -l a.qcow2
none "qemu-img snapshot -l prints nothing either" qemu-img snapshot -l a.qcow2
# space: overwrite 2M over a snapshot, delete it, write 2M elsewhere: the
# freed clusters are reused, so the file does not grow by the second 2M.
ok "d.qcow2" qemu-img create -q -f qcow2 d.qcow2 16M
ok "fill 4M" qio d.qcow2 'write -P 0x01 0 4M'
ok "vmkit -c s" vmkit img snapshot -c s d.qcow2
ok "overwrite 2M" qio d.qcow2 'write -P 0x02 0 2M'
ok "vmkit -d s" vmkit img snapshot -d s d.qcow2
clean d.qcow2 "d, after delete: "
end1=$(qemu-img check --output=json d.qcow2 | python3 -c 'import json,sys; print(json.load(sys.stdin)["image-end-offset"])')
ok "write 2M more at 8M" qio d.qcow2 'write -P 0x03 8M 2M'
end2=$(qemu-img check --output=json d.qcow2 | python3 -c 'import json,sys; print(json.load(sys.stdin)["image-end-offset"])')
eq "the deleted snapshot's 2M were reused (end offset $end1 -> $end2)" "$((end2 <= end1))" 1
ok "data right after reuse" qio d.qcow2 'read -P 0x02 0 2M' 'read -P 0x01 2M 2M' 'read -P 0x03 8M 2M'

# ---- formats: v2, 512-byte clusters, compressed clusters, zstd ----
for o in compat=0.10 cluster_size=512 compression_type=zstd; do
    rm -f f.qcow2
    ok "$o: create" qemu-img create -q -f qcow2 -o $o f.qcow2 8M
    ok "$o: write" qio f.qcow2 'write -P 0x21 0 1M' 'write -P 0x22 5M 100k'
    ok "$o: vmkit -c" vmkit img snapshot -c one f.qcow2
    ok "$o: overwrite" qio f.qcow2 'write -P 0x23 512k 1M'
    clean f.qcow2 "$o: "
    ok "$o: qemu-img -a" qemu-img snapshot -a one f.qcow2
    ok "$o: data of one" qio f.qcow2 'read -P 0x21 0 1M' 'read -P 0x22 5M 100k' 'read -P 0 1M 1M'
    ok "$o: overwrite again" qio f.qcow2 'write -P 0x24 0 2M'
    ok "$o: vmkit -a" vmkit img snapshot -a one f.qcow2
    ok "$o: data of one again" qio f.qcow2 'read -P 0x21 0 1M' 'read -P 0 1M 1M'
    ok "$o: vmkit -d" vmkit img snapshot -d one f.qcow2
    clean f.qcow2 "$o: after -d: "
done
ok "compressed: raw source" qemu-img create -q -f raw c.raw 4M
ok "compressed: fill" qemu-io -f raw -c 'write -P 0x31 0 2M' c.raw
ok "compressed: qemu-img convert -c" qemu-img convert -c -O qcow2 c.raw c.qcow2
ok "compressed: vmkit -c" vmkit img snapshot -c z c.qcow2
ok "compressed: overwrite" qio c.qcow2 'write -P 0x32 64k 1M'
clean c.qcow2 "compressed: "
ok "compressed: vmkit -a" vmkit img snapshot -a z c.qcow2
ok "compressed: same as the source" qemu-img compare -f qcow2 -F raw c.qcow2 c.raw
ok "compressed: vmkit -d" vmkit img snapshot -d z c.qcow2
clean c.qcow2 "compressed: after -d: "

# ---- many snapshots, taken and applied by both tools ----
N=$(pick 16 6 120)
ok "m.qcow2" qemu-img create -q -f qcow2 -o cluster_size=4k m.qcow2 32M
fails=0
for i in $(seq 1 "$N"); do
    qio m.qcow2 "write -P $i $(((i % 16) * 1024 * 1024)) 256k" || fails=$((fails + 1))
    if [ $((i % 3)) = 0 ]; then qemu-img snapshot -c "m$i" m.qcow2; else vmkit img snapshot -c "m$i" m.qcow2; fi \
        || fails=$((fails + 1))
done
eq "$N writes and snapshots succeed" "$fails" 0
eq "qemu-img lists all $N" "$(nsnaps m.qcow2)" "$N"
eq "vmkit lists all $N" "$(vmkit img snapshot -l m.qcow2 | tail -n +3 | wc -l)" "$N"
clean m.qcow2 "many: "
ids=$(vmkit img snapshot -l --json m.qcow2 | python3 -c 'import json,sys; print(" ".join(s["id"] for s in json.load(sys.stdin)))')
eq "IDs are 1..$N" "$ids" "$(seq -s ' ' 1 "$N")"
bad=0
for i in $(seq 2 5 "$N"); do
    # snapshot mI holds pattern I at (I%16) MiB, pattern I-1 before it
    if [ $((i % 2)) = 0 ]; then vmkit img snapshot -a "m$i" m.qcow2; else qemu-img snapshot -a "m$i" m.qcow2; fi \
        || bad=$((bad + 1))
    qio m.qcow2 "read -P $i $(((i % 16) * 1024 * 1024)) 256k" "read -P $((i - 1)) $((((i - 1) % 16) * 1024 * 1024)) 256k" \
        || { bad=$((bad + 1)); cat "$T/.qio"; }
    qemu-img check -q m.qcow2 || bad=$((bad + 1))
done
eq "every applied snapshot holds its data, check clean each time" "$bad" 0
bad=0
for i in $(seq 1 2 "$N"); do
    if [ $((i % 4)) = 1 ]; then vmkit img snapshot -d "m$i" m.qcow2; else qemu-img snapshot -d "m$i" m.qcow2; fi \
        || bad=$((bad + 1))
done
eq "deleting every other snapshot (both tools) succeeds" "$bad" 0
clean m.qcow2 "many, after deletes: "
eq "half are left" "$(nsnaps m.qcow2)" "$((N / 2))"
ok "vmkit creates after the deletes: next ID" vmkit img snapshot -c last m.qcow2
eq "the new ID is one past the highest" "$(vmkit img snapshot -l --json m.qcow2 | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')" "$((N + 1))"
ok "vmkit img check agrees" vmkit img check m.qcow2

# ---- refusals ----
ok "raw image" qemu-img create -q -f raw r.img 1M
fails_with "raw image refused" 1 "internal snapshots need qcow2" vmkit img snapshot -c x r.img
fails_with "raw image: -l refused too" 1 "internal snapshots need qcow2" vmkit img snapshot -l r.img
ok "b.qcow2" qemu-img create -q -f qcow2 b.qcow2 4M
ok "b: first snapshot" vmkit img snapshot -c dup b.qcow2
fails_with "duplicate name refused" 1 "exists already" vmkit img snapshot -c dup b.qcow2
fails_with "apply of an unknown name" 1 "no snapshot with the ID or name 'nope'" vmkit img snapshot -a nope b.qcow2
fails_with "delete of an unknown name" 1 "no snapshot" vmkit img snapshot -d nope b.qcow2
fails_with "empty name refused" 1 "1 to 255 bytes" vmkit img snapshot -c '' b.qcow2
fails_with "256-byte name refused" 1 "1 to 255 bytes" vmkit img snapshot -c "$(printf 'n%.0s' $(seq 256))" b.qcow2
ok "255-byte name accepted" vmkit img snapshot -c "$(printf 'n%.0s' $(seq 255))" b.qcow2
eq "qemu-img lists the 255-byte name" "$(tags b.qcow2 | awk '{print length($2)}')" 255
fails "no operation: usage" 2 vmkit img snapshot b.qcow2
fails "two operations: usage" 2 vmkit img snapshot -l -d dup b.qcow2
fails "--json without -l: usage" 2 vmkit img snapshot --json -c x b.qcow2
fails "missing image: usage" 2 vmkit img snapshot -l
eq "b has exactly its two snapshots" "$(nsnaps b.qcow2)" 2
clean b.qcow2 "after the refusals: "
ok "1-bit refcounts" qemu-img create -q -f qcow2 -o refcount_bits=1 one.qcow2 4M
ok "1-bit: data" qio one.qcow2 'write -P 0x41 0 1M'
fails_with "1-bit refcounts cannot share clusters" 1 "overflow" vmkit img snapshot -c x one.qcow2
clean one.qcow2 "1-bit, after the refused create: "
eq "1-bit: no snapshot" "$(nsnaps one.qcow2)" 0
ok "1-bit: data intact" qio one.qcow2 'read -P 0x41 0 1M'
if need qemu-system-x86_64; then
    qemu-system-x86_64 -nodefaults -display none -S -drive file=b.qcow2,format=qcow2,if=virtio 2>"$T/qemu.err" &
    qpid=$!
    locked=$(qemu_locked b.qcow2 "$qpid" "$T/qemu.err")   # QEMU may start late under load
    eq "QEMU holds b.qcow2's lock" "$locked" yes
    fails_with "an image a running QEMU holds is refused" 1 "in use" vmkit img snapshot -c busy b.qcow2
    kill "$qpid"; wait "$qpid" 2>/dev/null
    eq "still two snapshots" "$(nsnaps b.qcow2)" 2
fi

# ---- crash safety: killed before each write of create / apply / delete ----
KP=$(pick 8 4 40)   # crash points per operation
ok "crash image" qemu-img create -q -f qcow2 -o cluster_size=4k k.qcow2 8M
ok "crash: data" qio k.qcow2 'write -P 0x51 0 2M' 'write -P 0x52 4M 1M'
ok "crash: first snapshot (qemu-img)" qemu-img snapshot -c base k.qcow2
ok "crash: overwrite" qio k.qcow2 'write -P 0x53 0 1M'
ok "crash: base reference" qemu-img convert -O raw -l snapshot.name=base k.qcow2 base.raw
ok "crash: current reference" qemu-img convert -O raw k.qcow2 cur.raw
cp k.qcow2 k0.qcow2
# verdict for create/delete: check never sees corruption (leaks allowed);
# the disk is unchanged; base is intact; "new" when the snapshot list is
# the one after the operation.
# The qcow2 format cannot raise a refcount and clear the COPIED flag of
# the L2 entry naming it in one write (QEMU has the same windows), so a
# crash between the two may leave flags that check calls errors: the
# harmless kinds are allowed, nothing else.  COPIED clear with refcount 1
# (a write copies needlessly) is harmless always; COPIED set with refcount
# 2 only while the new snapshot is not committed (only the active table
# uses the cluster).  Then check -r all must leave it clean.
# kcheck IMG COMMITTED(0|1): prints nothing when check is acceptable.
kcheck() {
    qemu-img check "$1" >"$T/kc.out" 2>&1; rc=$?
    [ $rc = 0 ] || [ $rc = 3 ] || [ $rc = 2 ] || { echo "wrong: qemu-img check exit $rc"; return; }
    python3 - "$T/kc.out" "$2" <<'PY' || return
import re, sys
bad = []
for l in open(sys.argv[1]):
    if not l.startswith('ERROR'):
        continue
    m = re.match(r'ERROR OFLAG_COPIED (?:data|L2) cluster: .*l[12]_entry=([0-9a-f]+) refcount=(\d+)', l)
    if m:
        copied, rc = int(m.group(1), 16) >> 63, int(m.group(2))
        if (not copied and rc == 1) or (copied and rc > 1 and sys.argv[2] == '0'):
            continue
    bad.append(l.strip())
if bad:
    print('wrong: ' + ' | '.join(bad[:3]))
PY
    [ $rc = 2 ] && ! qemu-img check -q -r all "$1" >/dev/null 2>&1 && echo "wrong: check -r all fails"
    [ $rc = 2 ] && ! qemu-img check -q "$1" >/dev/null 2>&1 && echo "wrong: not clean after check -r all"
}
k_verdict() {  # IMG OLDTAGS NEWTAGS
    t=$(tags "$1")
    committed=1; [ "$t" = "$2" ] && committed=0
    w=$(kcheck "$1" $committed); [ -z "$w" ] || { echo "$w" | head -1; return; }
    qemu-img compare -q -f qcow2 -F raw "$1" cur.raw || { echo "wrong: the disk changed"; return; }
    qemu-img convert -O raw -l snapshot.name=base "$1" "$T/kb.raw" && cmp -s "$T/kb.raw" base.raw ||
        { echo "wrong: snapshot base changed"; return; }
    if [ "$t" = "$2" ]; then echo old; elif [ "$t" = "$3" ]; then echo new; else echo "wrong: snapshots '$t'"; fi
}
v_create() { k_verdict "$1" "base" "base new"; }
crash_test "snapshot create" k.qcow2 k0.qcow2 "$KP" v_create vmkit img snapshot -c new k.qcow2
ok "crash: second snapshot for the delete test" vmkit img snapshot -c new k0.qcow2
v_delete() { k_verdict "$1" "base new" "base"; }
crash_test "snapshot delete" k.qcow2 k0.qcow2 "$KP" v_delete vmkit img snapshot -d new k.qcow2
# apply: the disk is the current one or base's, never anything else
v_apply() {
    w=$(kcheck "$1" 1); [ -z "$w" ] || { echo "$w" | head -1; return; }
    [ "$(tags "$1")" = "base new" ] || { echo "wrong: snapshots $(tags "$1")"; return; }
    if qemu-img compare -q -f qcow2 -F raw "$1" cur.raw; then echo old
    elif qemu-img compare -q -f qcow2 -F raw "$1" base.raw; then echo new
    else echo "wrong: the disk is neither"; fi
}
crash_test "snapshot apply" k.qcow2 k0.qcow2 "$KP" v_apply vmkit img snapshot -a base k.qcow2
finish
