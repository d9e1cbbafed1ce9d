#!/bin/bash
# Crash injection on the partition-table write paths: part init, add,
# del, set, resize, load and fix on MBR (primary and logical partitions)
# and GPT.  Each command runs under
# tests/tools/crashpoint (tests/crash_lib.sh), SIGKILLed just before its
# Nth write or sync to the image, at points spread over the whole run.
#
# The verdict reads the table with sfdisk and sgdisk (not vmkit):
#   MBR: sfdisk's dump of the table is the old one or the new one.
#   GPT: vmkit writes the backup entries and header first, then the
#     primary entries and header, then the protective MBR.  So a crash
#     leaves either both copies old or new ("old"/"new"), or one intact
#     copy holding the old or the new table and the other one stale or
#     with a bad CRC.  In that last case the table sgdisk and sfdisk read
#     (they fall back to the intact copy) must be the old or the new one,
#     and `vmkit part verify --repair` must rewrite the other copy from
#     it, after which sgdisk -v finds no problem and the table is
#     unchanged: counted as old/new, and reported as "repaired from the
#     intact copy" on the summary line.
# Every kill must land mid-run (exit 137), the uninterrupted run must
# give the new table, and every checker's exit status is checked.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/img_lib.sh"
. "$(dirname "$0")/crash_lib.sh"
cd "$T" || exit 1
K=$(pick 4 3 10)   # crash points per writer: make check samples, check-long covers more
export CRASH_ALL=1   # the last write (the final flush) is a crash point too
REPAIRED=$T/repaired

# table IMG: the partition table as sfdisk reads it, without the device
# name and without the random identifiers init, add and load make up
# (disk signature or GUID, partition UUIDs).
table() {
    sfdisk -d "$1" 2>/dev/null | sed -e "s|^$1||" -e '/^device:/d' -e '/^sector-size/d' \
        -e '/^label-id:/d' -e 's/, *uuid=[0-9A-Fa-f-]*//'
}

# v_table IMG OLD NEW [gpt]: "old"/"new" when the table is one of them.
# A GPT that sgdisk -v does not find clean must be repairable: the table
# read from the intact copy is old or new, and vmkit part verify --repair
# makes sgdisk -v clean without changing it.  (Not needed when the table
# is the old one and the starting image was not clean either: part fix.)
v_table() {
    img=$1 old=$2 new=$3 gpt=${4:-}
    cur=$(table "$img")
    if [ -n "$cur" ]; then
        "$VMKIT" part list "$img" >/dev/null 2>&1 || { echo "wrong: vmkit part list fails"; return; }
    fi
    if [ "$cur" != "$(cat "$old")" ] && [ "$cur" != "$(cat "$new")" ]; then
        if [ -n "${LOGICAL_MIXED:-}" ] && [ "$cur" = "$(cat "$LOGICAL_MIXED")" ]; then echo mixed; return; fi
        echo "wrong: table neither old nor new: $(echo "$cur" | tr '\n' ' ' | head -c 300)"; return
    fi
    if [ -n "$gpt" ] && grep -q '^label: gpt' <<<"$cur" &&
       ! { [ "$cur" = "$(cat "$old")" ] && [ -n "${OLD_UNCLEAN:-}" ]; } &&
       ! sgdisk -v "$img" 2>&1 | grep -q "No problems found"; then
        cp --sparse=always "$img" rep.img
        "$VMKIT" part verify --repair rep.img >/dev/null 2>&1
        case $? in 0|1) ;; *) echo "wrong: vmkit part verify --repair failed"; return ;; esac
        sgdisk -v rep.img 2>&1 | grep -q "No problems found" ||
            { echo "wrong: sgdisk -v still finds problems after repair"; return; }
        [ "$(table rep.img)" = "$cur" ] || { echo "wrong: repair changed the table"; return; }
        echo x >>"$REPAIRED"
    fi
    [ "$cur" = "$(cat "$old")" ] && echo old || echo new
}

# part_crash NAME LABEL PRISTINE CMD...: run the crash points of the part
# command CMD (DISK is the literal "d.img"), old table from PRISTINE, new
# one from an uninterrupted run.
part_crash() {
    name=$1 label=$2 pristine=$3; shift 3
    table "$pristine" >old.tab
    cp --sparse=always "$pristine" d.img
    CRASH_STDIN=${CRASH_STDIN:-/dev/null} "$@" <"${CRASH_STDIN:-/dev/null}" >/dev/null 2>&1
    table d.img >new.tab
    if cmp -s old.tab new.tab; then
        eq "$name: the command changes the table" same different; return
    fi
    : >"$REPAIRED"
    OLD_UNCLEAN=
    [ "$label" = gpt ] && ! sgdisk -v "$pristine" 2>&1 | grep -q "No problems found" && OLD_UNCLEAN=1
    gpt=; [ "$label" = gpt ] && gpt=1
    eval "verdict() { v_table d.img old.tab new.tab $gpt; }"
    crash_test "$name" d.img "$pristine" "$K" verdict_img "$@"
    echo "# $name: $(wc -l <"$REPAIRED") of them GPT copies repaired from the intact copy"
}
verdict_img() { verdict; }

# Starting tables (made with sfdisk, the reference tool).
truncate -s 64M mbr0.img
sfdisk -q mbr0.img <<'E'
label: dos
label-id: 0x12345678
start=2048, size=20480, type=83
start=22528, size=40960, type=5
start=24576, size=8192, type=83
start=34816, size=8192, type=82
start=45056, size=8192, type=83
E
truncate -s 64M gpt0.img
sfdisk -q gpt0.img <<'E'
label: gpt
label-id: 11111111-2222-3333-4444-555555555555
start=2048, size=20480, type=0FC63DAF-8483-4772-8E79-3D69D8E47DE4, name="root", uuid=AAAAAAAA-0000-0000-0000-000000000001
start=22528, size=8192, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name="swap", uuid=AAAAAAAA-0000-0000-0000-000000000002
start=30720, size=20480, type=0FC63DAF-8483-4772-8E79-3D69D8E47DE4, name="data", uuid=AAAAAAAA-0000-0000-0000-000000000003
E
truncate -s 64M blank.img
ok "sgdisk: starting GPT is clean" sgdisk -v gpt0.img

# MBR, logical partitions included.
part_crash "mbr init" dos mbr0.img vmkit part init d.img mbr
part_crash "mbr add primary" dos mbr0.img vmkit part add d.img --size 4M
part_crash "mbr add logical" dos mbr0.img vmkit part add d.img --logical --size 2M
part_crash "mbr del logical (the chain relinks)" dos mbr0.img vmkit part del d.img 6
part_crash "mbr del extended" dos mbr0.img vmkit part del d.img 2
part_crash "mbr set type" dos mbr0.img vmkit part set d.img 5 --type fat32
part_crash "mbr resize logical" dos mbr0.img vmkit part resize d.img 7 max
part_crash "mbr from blank" dos blank.img vmkit part init d.img mbr
# Replacing the table: the new extended partition starts where the old
# one did and has no logical partitions, so its first EBR must be
# emptied and sector 0 rewritten - two sectors, and no other place to
# build either.  Between the two writes the old primary entries show an
# empty extended partition: the old table without its logical
# partitions (their data untouched).  That one state is counted "mixed";
# any other is wrong.  (sfdisk has the same window.)
printf 'label: dos\n,10M,L\n,20M,E\n,4M,L\n,4M,S\n' >mbr.script
table mbr0.img | grep -v '^[5-9] :' >mixed.tab
LOGICAL_MIXED=mixed.tab CRASH_STDIN=mbr.script part_crash "mbr load" dos mbr0.img vmkit part load d.img
# GPT: primary and backup copies.
part_crash "gpt init over mbr" gpt mbr0.img vmkit part init d.img gpt
part_crash "gpt init over gpt" gpt gpt0.img vmkit part init d.img gpt
part_crash "gpt add" gpt gpt0.img vmkit part add d.img --size 4M --name new
part_crash "gpt del" gpt gpt0.img vmkit part del d.img 2
part_crash "gpt set name" gpt gpt0.img vmkit part set d.img 1 --name renamed
part_crash "gpt resize" gpt gpt0.img vmkit part resize d.img 3 max
printf 'label: gpt\n,10M,L\n,4M,S\n' >gpt.script
CRASH_STDIN=gpt.script part_crash "gpt load" gpt gpt0.img vmkit part load d.img
cp gpt0.img grown.img; truncate -s 96M grown.img
part_crash "gpt fix after growing" gpt grown.img vmkit part fix d.img
finish
