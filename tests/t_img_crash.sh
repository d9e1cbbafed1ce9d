#!/bin/bash
# Crash injection on the image write paths: img convert (raw->qcow2,
# qcow2->raw, -c), img create, img resize (grow and shrink, raw and
# qcow2; grow VDI, VHD, VMDK and VHDX), img commit, img rebase (safe
# mode) and img snapshot -c/-a/-d.  Each command runs under
# tests/tools/crashpoint, which SIGKILLs it just before its Nth write or
# sync to the image (for convert and create: to any file of the output
# directory, the temporary file and the directory sync included); crash
# points are spread over the whole run (tests/crash_lib.sh).  After every
# kill the real tools judge the result:
#   convert, create: DST absent ("old") or complete - qemu-img check
#     clean and qemu-img compare identical to the source ("new");
#   resize: qemu-img check not corrupt (0, or 3: leaks), and the virtual
#     size and content are the old ones or the new ones;
#   commit: what the guest sees (the top image over its base) is always
#     the same; the base alone may hold part of the committed data
#     ("mixed"), never a corrupt image;
#   rebase: the backing name is the old or the new one, and either way
#     the guest sees the same disk; never corrupt.
# Each case prints its crash-point count and verdicts, asserts every kill
# landed mid-run (exit 137, counter reached) and checks the exit status
# of the uninterrupted writer and of every checker.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/img_lib.sh"
. "$(dirname "$0")/crash_lib.sh"
cd "$T" || exit 1
K=$(pick 5 3 12)   # crash points per writer: make check samples, check-long covers more
export CRASH_ALL=1   # every write is deterministic: the last one (the directory sync after a rename, the close) is a point too

if ! qcow2_ok; then
    skip "image crash tests" "this build has no qcow2 driver yet"
    finish; exit
fi

# qok FILE: qemu-img check does not call it corrupt (0 clean, 3 leaks).
qok() {
    qemu-img check -q "$1" >/dev/null 2>&1
    case $? in 0|3) return 0 ;; *) return 1 ;; esac
}

# same A B [FMT-A FMT-B]: qemu-img compare says identical.
same() { qemu-img compare ${3:+-f $3} ${4:+-F $4} "$1" "$2" >/dev/null 2>&1; }

img_crash() { _ic=$1; shift; crash_test_reset "$_ic" "$1" "$2" "$K" "$3" "${@:4}"; }

# Sources: 6 MiB of mixed content (fill), as raw and as qcow2.
qemu-img create -q -f raw src.raw 6M
fill src.raw
qemu-img convert -O qcow2 src.raw src.qcow2

# --- convert and create: DST absent or complete ---------------------------
reset_out() { rm -rf out; mkdir out; }
# v_dst FMT: absent -> old; complete and clean -> new.
v_dst() {
    [ -e out/dst ] || { echo old; return; }
    if [ "$1" = qcow2 ]; then
        qemu-img check -q out/dst >/dev/null 2>&1 || { echo "wrong: qemu-img check: DST corrupt or leaky"; return; }
    fi
    same src.raw out/dst raw "$1" && echo new || echo "wrong: DST differs from the source"
}
v_qcow2() { v_dst qcow2; }
v_raw() { v_dst raw; }
img_crash "convert raw->qcow2" out reset_out v_qcow2 vmkit img convert -O qcow2 src.raw out/dst
img_crash "convert qcow2->raw" out reset_out v_raw vmkit img convert -O raw src.qcow2 out/dst
img_crash "convert -c raw->qcow2" out reset_out v_qcow2 vmkit img convert -c -O qcow2 src.raw out/dst
v_create() {
    [ -e out/dst ] || { echo old; return; }
    qemu-img check -q out/dst >/dev/null 2>&1 || { echo "wrong: qemu-img check failed"; return; }
    [ "$(qinfo out/dst virtual-size)" = $((64 << 20)) ] && echo new || echo "wrong: size"
}
img_crash "create qcow2 (preallocation=metadata)" out reset_out v_create \
    vmkit img create -f qcow2 --prealloc metadata -o cluster_size=4096 out/dst 64M

# --- resize ---------------------------------------------------------------
# v_resize IMG FMT OLD-SIZE OLD-RAW NEW-SIZE NEW-RAW
v_resize() {
    if [ "$2" = qcow2 ] && ! qok "$1"; then echo "wrong: qemu-img check: corrupt"; return; fi
    sz=$(qinfo "$1" virtual-size "$2")
    if [ "$sz" = "$3" ] && same "$4" "$1" raw "$2"; then echo old
    elif [ "$sz" = "$5" ] && same "$6" "$1" raw "$2"; then echo new
    else echo "wrong: size $sz, content neither old nor new"; fi
}
head -c 4M src.raw >first4.raw
cp src.raw grown.raw; truncate -s 10M grown.raw
reset_qg() { cp src.qcow2 r.qcow2; }
v_qg() { v_resize r.qcow2 qcow2 $((6 << 20)) src.raw $((10 << 20)) grown.raw; }
img_crash "resize qcow2 grow" r.qcow2 reset_qg v_qg vmkit img resize r.qcow2 10M
reset_qs() { cp src.qcow2 r.qcow2; }
v_qs() { v_resize r.qcow2 qcow2 $((6 << 20)) src.raw $((4 << 20)) first4.raw; }
img_crash "resize qcow2 shrink over data" r.qcow2 reset_qs v_qs vmkit img resize --shrink r.qcow2 4M
# a big grow: the L1 table has to move (512-byte clusters: 64 entries per
# L2 table, so 32 KiB per L1 entry)
qemu-img convert -O qcow2 -o cluster_size=512 src.raw small.qcow2
cp src.raw huge.raw; truncate -s 64M huge.raw
reset_ql() { cp small.qcow2 r.qcow2; }
v_ql() { v_resize r.qcow2 qcow2 $((6 << 20)) src.raw $((64 << 20)) huge.raw; }
img_crash "resize qcow2 grow, L1 table moves" r.qcow2 reset_ql v_ql vmkit img resize r.qcow2 64M
reset_rg() { cp src.raw r.raw; }
v_rg() { v_resize r.raw raw $((6 << 20)) src.raw $((10 << 20)) grown.raw; }
reset_rs() { cp src.raw r.raw; }
v_rs() { v_resize r.raw raw $((6 << 20)) src.raw $((4 << 20)) first4.raw; }
# raw resize: one ftruncate, then the sync at close.
img_crash "resize raw grow" r.raw reset_rg v_rg vmkit img resize -f raw r.raw 10M
# VDI: growing past the block map's room moves the map (its first data
# blocks move first), on a half-used and on a full image; shrinking over
# data moves the last blocks into the holes.  qemu-img check may call a
# copy past the old block count "too large" after some kills (a full
# image), but QEMU and vmkit read the old or new disk, and the resize
# run again is clean.
v_fmt() {  # FMT IMG OLD-SIZE OLD-RAW NEW-SIZE NEW-RAW
    "$VMKIT" img info -f "$1" "$2" >/dev/null 2>&1 || { echo "wrong: vmkit cannot open it"; return; }
    sz=$(qinfo "$2" virtual-size "$1")
    if [ "$sz" = "$3" ] && same "$4" "$2" raw "$1"; then v=old
    elif [ "$sz" = "$5" ] && same "$6" "$2" raw "$1"; then v=new
    else echo "wrong: size $sz, content neither old nor new"; return; fi
    cp "$2" again.img
    if [ "$1" != vpc ]; then chk="qemu-img check -q again.img"; else chk="$VMKIT img check -f $1 again.img"; fi
    "$VMKIT" img resize -f "$1" --shrink again.img "$5" >/dev/null 2>&1 && $chk >/dev/null 2>&1 &&
        same "$6" again.img raw "$1" || { echo "wrong: resizing again does not finish the job"; return; }
    echo $v
}
v_vdi() { v_fmt vdi "$@"; }
qemu-img convert -O vdi src.raw src.vdi
cp src.raw vg.raw; truncate -s 1G vg.raw
reset_vg() { cp src.vdi r.vdi; }
v_vg() { v_vdi r.vdi $((6 << 20)) src.raw $((1 << 30)) vg.raw; }
img_crash "resize vdi grow, the block map moves" r.vdi reset_vg v_vg vmkit img resize r.vdi 1G
qemu-img create -q -f vdi full.vdi 128M
qemu-io -c 'write -P 0x33 0 128M' full.vdi >/dev/null
head -c 128M /dev/zero | tr '\0' '3' >full.raw
cp full.raw fullg.raw; truncate -s 300M fullg.raw
reset_vf() { cp full.vdi r.vdi; }
v_vf() { v_vdi r.vdi $((128 << 20)) full.raw $((300 << 20)) fullg.raw; }
img_crash "resize vdi grow a full image" r.vdi reset_vf v_vf vmkit img resize r.vdi 300M
qemu-img create -q -f vdi back.vdi 8M
for o in 7 6 5 4 3 2 1 0; do qemu-io -c "write -P $((o + 1)) ${o}M 1M" back.vdi >/dev/null; done
qemu-img convert -O raw back.vdi back.raw
head -c 3M back.raw >back3.raw
reset_vs() { cp back.vdi r.vdi; }
v_vs() { v_vdi r.vdi $((8 << 20)) back.raw $((3 << 20)) back3.raw; }
img_crash "resize vdi shrink, blocks move down" r.vdi reset_vs v_vs vmkit img resize --shrink r.vdi 3M
# VHD: growing a full dynamic image moves its BAT behind the blocks; a
# fixed one gets its footer at the new end
qemu-img create -q -f vpc fullv.vhd 64M
qemu-io -f vpc -c 'write -P 0x35 0 64M' fullv.vhd >/dev/null
qemu-img convert -f vpc -O raw fullv.vhd fullv.raw
qemu-img create -q -f vpc sz.vhd 1G   # a size a geometry holds exactly
vg=$(qinfo sz.vhd virtual-size vpc)
rm sz.vhd
cp fullv.raw fullvg.raw; truncate -s "$vg" fullvg.raw
reset_hg() { cp fullv.vhd r.vhd; }
v_hg() { v_fmt vpc r.vhd "$(qinfo fullv.vhd virtual-size vpc)" fullv.raw "$vg" fullvg.raw; }
img_crash "resize vhd grow, the BAT moves" r.vhd reset_hg v_hg vmkit img resize -f vpc r.vhd "$vg"
qemu-img create -q -f vpc -o subformat=fixed fixv.vhd 6M
qemu-io -f vpc -c 'write -P 0x36 0 6M' fixv.vhd >/dev/null
qemu-img convert -f vpc -O raw fixv.vhd fixv.raw
cp fixv.raw fixvg.raw; truncate -s "$vg" fixvg.raw
reset_hf() { cp fixv.vhd r.vhd; }
v_hf() { v_fmt vpc r.vhd "$(qinfo fixv.vhd virtual-size vpc)" fixv.raw "$vg" fixvg.raw; }
img_crash "resize fixed vhd grow" r.vhd reset_hf v_hf vmkit img resize -f vpc r.vhd "$vg"
# VMDK: growing a monolithicSparse past its directory's room (128 tables
# to a sector: 4 GiB) moves both directories behind the new grain tables,
# and one header write switches; a twoGbMaxExtentFlat grows its last
# extent file and makes a new one before the descriptor names them.
qemu-img create -q -f vmdk mk.vmdk 6M
qemu-io -f vmdk -c 'write -P 0x37 0 2M' -c 'write -P 0x38 5M 1M' mk.vmdk >/dev/null
qemu-img convert -f vmdk -O raw mk.vmdk mk.raw
cp mk.raw mkg.raw; truncate -s 4200M mkg.raw
reset_mg() { cp mk.vmdk r.vmdk; }
v_mg() { v_fmt vmdk r.vmdk $((6 << 20)) mk.raw $((4200 << 20)) mkg.raw; }
img_crash "resize vmdk grow, the directories move" r.vmdk reset_mg v_mg vmkit img resize r.vmdk 4200M
mkdir sp0
qemu-img create -q -f vmdk -o subformat=twoGbMaxExtentFlat sp0/s.vmdk 6M
qemu-io -f vmdk -c 'write -P 0x39 0 2M' -c 'write -P 0x3a 5M 1M' sp0/s.vmdk >/dev/null
qemu-img convert -f vmdk -O raw sp0/s.vmdk sp.raw
cp sp.raw spg.raw; truncate -s 3G spg.raw
reset_sp() { rm -rf sp; cp -r sp0 sp; }
v_sp() {  # old or new (a new extent file the descriptor does not name yet is
          # fine), and a second resize finishes the job
    sz=$(qinfo sp/s.vmdk virtual-size vmdk)
    v=
    if [ "$sz" = $((6 << 20)) ] && same sp.raw sp/s.vmdk raw vmdk; then v=old
    elif [ "$sz" = $((3 << 30)) ] && same spg.raw sp/s.vmdk raw vmdk && "$VMKIT" img compare sp/s.vmdk spg.raw >/dev/null 2>&1; then v=new
    else echo "wrong: size $sz, content neither old nor new"; return; fi
    rm -rf again; cp -r sp again    # a second resize takes over what the first left
    "$VMKIT" img resize again/s.vmdk 3G >/dev/null 2>&1 && qemu-img check -q again/s.vmdk >/dev/null 2>&1 &&
        same spg.raw again/s.vmdk raw vmdk || { echo "wrong: resizing again does not finish the job"; return; }
    echo ${v:-old}
}
img_crash "resize vmdk twoGbMaxExtentFlat grow, a new extent" sp reset_sp v_sp vmkit img resize sp/s.vmdk 3G
# VHDX: a grow writes new header GUIDs, zeroes the old last block's tail,
# writes the BAT entries past the old end, then the 8-byte size item.
qemu-img create -q -f vhdx xv.vhdx 6M
qemu-io -f vhdx -c 'write -P 0x3b 0 2M' -c 'write -P 0x3c 5M 1M' xv.vhdx >/dev/null
qemu-img convert -f vhdx -O raw xv.vhdx xv.raw
cp xv.raw xvg.raw; truncate -s 1G xvg.raw
reset_xg() { cp xv.vhdx r.vhdx; }
v_xg() { v_fmt vhdx r.vhdx $((6 << 20)) xv.raw $((1 << 30)) xvg.raw; }
img_crash "resize vhdx grow" r.vhdx reset_xg v_xg vmkit img resize r.vhdx 1G
# VHDX grown past its BAT region's room (1 MiB of entries for 1 MiB
# blocks: 128 GiB): the BAT moves to the end of the file and the region
# tables switch to it through one log entry.  A kill after the header
# names the log leaves it pending: opening read-write replays it, in QEMU
# (qemu-img check -r all) and in vmkit alike, to the old or the new disk.
qemu-img create -q -f vhdx -o block_size=1M xm.vhdx 6M
qemu-io -f vhdx -c 'write -P 0x3d 0 2M' -c 'write -P 0x3e 5M 1M' xm.vhdx >/dev/null
qemu-img convert -f vhdx -O raw xm.vhdx xm.raw
cp xm.raw xmg.raw; truncate -s 200G xmg.raw
reset_xm() { cp xm.vhdx r.vhdx; }
# QEMU reads no VHDX block status (a 200 GiB compare reads 200 GiB of
# zeroes): qemu-io reads the written ranges and two past the old end,
# vmkit compares in full (its block status skips the holes).
v_xm_one() {  # IMG: old, new or wrong
    qemu-img check -q "$1" >/dev/null 2>&1 || { echo "wrong: qemu-img check"; return; }
    sz=$(qinfo "$1" virtual-size vhdx)
    if [ "$sz" = $((6 << 20)) ]; then ref=xm.raw v=old
    elif [ "$sz" = $((200 << 30)) ]; then ref=xmg.raw v=new
    else echo "wrong: size $sz"; return; fi
    r=$(qemu-io -f vhdx -c 'read -P 0x3d 0 2M' -c 'read -P 0 2M 3M' -c 'read -P 0x3e 5M 1M' "$1" 2>&1)
    [ $v = old ] || r="$r $(qemu-io -f vhdx -c 'read -P 0 6M 1M' -c 'read -P 0 199G 1M' "$1" 2>&1)"
    case $r in *[Ff]ail*|*rror*|*attern*) echo "wrong: QEMU reads other data"; return;; esac
    "$VMKIT" img compare -f vhdx -F raw "$1" $ref >/dev/null 2>&1 || { echo "wrong: vmkit reads other data"; return; }
    echo $v
}
v_xm() {
    cp r.vhdx rq.vhdx; cp r.vhdx rv.vhdx
    if ! "$VMKIT" img info r.vhdx >/dev/null 2>&1; then   # a pending log
        qemu-img check -q -r all rq.vhdx >/dev/null 2>&1 || { echo "wrong: qemu-img cannot replay the log"; return; }
        "$VMKIT" img check -r all rv.vhdx >/dev/null 2>&1 || { echo "wrong: vmkit cannot replay the log"; return; }
    fi
    a=$(v_xm_one rq.vhdx) b=$(v_xm_one rv.vhdx)
    [ "$a" = "$b" ] || { echo "wrong: replayed by QEMU $a, by vmkit $b"; return; }
    "$VMKIT" img resize rv.vhdx 200G >/dev/null 2>&1 && [ "$(v_xm_one rv.vhdx)" = new ] ||
        { echo "wrong: resizing again does not finish the job"; return; }
    echo "$a"
}
img_crash "resize vhdx grow, the BAT moves through the log" r.vhdx reset_xm v_xm vmkit img resize r.vhdx 200G
img_crash "resize raw shrink" r.raw reset_rs v_rs vmkit img resize -f raw --shrink r.raw 4M

# --- commit ---------------------------------------------------------------
# base: src content; top: new data at several places over it.
qemu-img create -q -f qcow2 -b src.qcow2 -F qcow2 top0.qcow2
qemu-io -c 'write -P 0x61 0 64k' -c 'write -P 0x62 1M 1M' -c 'write -P 0x63 5M 300k' \
    -c 'write -z 3M 64k' top0.qcow2 >/dev/null
qemu-img convert -O raw top0.qcow2 topview.raw
reset_commit() { cp src.qcow2 base.qcow2; cp top0.qcow2 top.qcow2; qemu-img rebase -u -b base.qcow2 -F qcow2 top.qcow2; }
v_commit() {
    qok base.qcow2 || { echo "wrong: base corrupt"; return; }
    same topview.raw top.qcow2 raw qcow2 || { echo "wrong: the guest's view changed"; return; }
    if same src.raw base.qcow2 raw qcow2; then echo old
    elif same topview.raw base.qcow2 raw qcow2; then echo new
    else echo mixed; fi   # the base alone, half committed: the top still covers it
}
img_crash "commit" base.qcow2 reset_commit v_commit vmkit img commit top.qcow2

# --- rebase (safe mode) ----------------------------------------------------
# top over oldb; newb differs from oldb in places: safe rebase copies the
# old content of those places into top, then names newb.
cp src.qcow2 oldb.qcow2
cp src.qcow2 newb.qcow2
qemu-io -c 'write -P 0x71 512k 256k' -c 'write -P 0x72 4M 1M' -c 'write -z 0 4k' newb.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b oldb.qcow2 -F qcow2 rtop0.qcow2
qemu-io -c 'write -P 0x73 4M 64k' rtop0.qcow2 >/dev/null
qemu-img convert -O raw rtop0.qcow2 rview.raw
reset_rebase() { cp rtop0.qcow2 rtop.qcow2; }
v_rebase() {
    qok rtop.qcow2 || { echo "wrong: top corrupt"; return; }
    b=$(qinfo rtop.qcow2 backing-filename)
    same rview.raw rtop.qcow2 raw qcow2 || { echo "wrong: the guest's view changed (backing $b)"; return; }
    case $b in oldb.qcow2) echo old ;; newb.qcow2) echo new ;; *) echo "wrong: backing '$b'" ;; esac
}
img_crash "rebase (safe)" rtop.qcow2 reset_rebase v_rebase vmkit img rebase -b newb.qcow2 -F qcow2 rtop.qcow2

# --- internal snapshots ----------------------------------------------------
# snap0: src content with snapshot "a" (taken of src), then new data over
# it (the current disk differs from "a").
cp src.qcow2 snap0.qcow2
qemu-img snapshot -c a snap0.qcow2
qemu-io -c 'write -P 0x81 0 256k' -c 'write -P 0x82 2M 1M' snap0.qcow2 >/dev/null
qemu-img convert -O raw snap0.qcow2 snapcur.raw
reset_snap() { cp snap0.qcow2 s.qcow2; }
snaps() { qemu-img snapshot -l s.qcow2 2>/dev/null | awk 'NR > 2 { print $2 }' | sort | tr '\n' ' '; }
# v_snap OLD-LIST NEW-LIST OLD-RAW NEW-RAW: the snapshot list and the
# current disk both the old ones or both the new ones, and never corrupt
# - once the image is repaired if it is marked dirty (a refcount and the
# COPIED flag naming it are in different clusters: vmkit runs snapshot
# operations under the dirty bit, and QEMU repairs a dirty image when it
# opens it for writing, as the next user of the image would).
v_snap() {
    if qemu-img info --output=json s.qcow2 2>/dev/null | grep -q '"dirty-flag": true'; then
        qemu-io -c 'flush' s.qcow2 >/dev/null 2>&1 || { echo "wrong: QEMU cannot open the dirty image"; return; }
        qemu-img info --output=json s.qcow2 | grep -q '"dirty-flag": true' && { echo "wrong: still dirty after QEMU opened it"; return; }
    fi
    qemu-img check -q s.qcow2 >/dev/null 2>&1 || { echo "wrong: qemu-img check: not clean"; return; }
    l=$(snaps)
    if [ "$l" = "$1" ] && same "$3" s.qcow2 raw qcow2; then echo old
    elif [ "$l" = "$2" ] && same "$4" s.qcow2 raw qcow2; then echo new
    else echo "wrong: snapshots '$l', content $(same "$3" s.qcow2 raw qcow2 && echo old || echo not-old)"; fi
}
v_snap_c() { v_snap "a " "a b " snapcur.raw snapcur.raw; }
v_snap_a() { v_snap "a " "a " snapcur.raw src.raw; }
v_snap_d() { v_snap "a " "" snapcur.raw snapcur.raw; }
img_crash "snapshot -c" s.qcow2 reset_snap v_snap_c vmkit img snapshot -c b s.qcow2
img_crash "snapshot -a" s.qcow2 reset_snap v_snap_a vmkit img snapshot -a a s.qcow2
img_crash "snapshot -d" s.qcow2 reset_snap v_snap_d vmkit img snapshot -d a s.qcow2
finish
