#!/bin/bash
# Crash ordering of every ext write path (issue 17): fs put (new file and
# replacing one), write, edit, rm, mv (plain and over an existing name)
# and mkfs --from, on ext4 in a raw image and in a qcow2 (whole disk and
# partitions), are killed with SIGKILL before their Nth write to the
# image, at crash points spread over the whole run (tests/crash_lib.sh).
# After every kill the image is checked with the real tools: e2fsck -fy
# on a raw copy must leave a filesystem that e2fsck -fn calls clean, and
# debugfs must read the old or the new content of every file (a crash may
# leak blocks or inodes, never lose or garble a file).  An e2fsck -fn
# that calls the crashed image clean while a file is wrong is the silent
# loss the issue is about; it is reported as such.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/crash_lib.sh"
cd "$T" || exit 1

K=$(pick 5 3 12)   # crash points per writer: make check samples, check-long covers more

# ---- what the images hold ------------------------------------------------
head -c 51200 /dev/urandom >keep        # never touched: must survive all
head -c 204800 /dev/urandom >old        # /f before
head -c 307200 /dev/urandom >new        # /f after (bigger: new blocks)
head -c 30000 /dev/urandom >gold        # /g before mv-over
printf '#!/bin/sh\ncat "%s" >"$1"\n' "$T/new" >ed.sh
chmod +x ed.sh
mkdir -p tarsrc && cp new tarsrc/f && tar -C tarsrc -cf over.tar f   # a tar replacing /f

# Raw copy of the filesystem of IMAGE into $T/v.raw; sets OFF (byte offset
# of the filesystem in it).  FMT and PART describe the current image.
to_raw() {
    if [ "$FMT" = qcow2 ]; then qemu-img convert -O raw "$1" v.raw || return 1
    else cp --sparse=always "$1" v.raw; fi
    OFF=0
    [ -n "$PART" ] && OFF=$(sfdisk -J v.raw | python3 -c \
        'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][0]["start"]*512)')
    DEV="v.raw?offset=$OFF"
}

# Repair the raw copy with e2fsck -fy; fails (with a message) unless the
# repair leaves it clean.
repair() {
    e2fsck -fy "$DEV" >fsck.y 2>&1; y=$?
    if [ $y -ge 4 ]; then echo "wrong: e2fsck -fy exit $y: $(grep -v '^Pass\|^e2fsck' fsck.y | head -3 | tr '\n' ' ')"; return 1; fi
    e2fsck -fn "$DEV" >fsck.n2 2>&1 || { echo "wrong: still unclean after e2fsck -fy"; return 1; }
}

# fetch PATH: debugfs dumps PATH into $T/got (no file if absent).
fetch() {
    rm -f got
    debugfs -R "dump $1 got" "$DEV" >/dev/null 2>&1
}
# matches WANT: got is WANT ("absent" or a host file with the content).
matches() {
    if [ "$1" = absent ]; then [ ! -e got ]; else [ -e got ] && cmp -s got "$1"; fi
}

# The uninterrupted run must leave what e2fsck -fn calls clean.
clean_fs() {  # IMAGE
    to_raw "$1" && e2fsck -fn "$DEV"
}
CRASH_CLEAN=clean_fs

# For a wrong file: did e2fsck -fn call the crashed image clean (the
# silent loss)?  Asked of a fresh copy, only then.
silent() {
    to_raw "$JUDGED" && e2fsck -fn "$DEV" >/dev/null 2>&1 && echo " (e2fsck -fn called it clean)"
}

# The verdict: STATES lists "PATH:OLD:NEW" (OLD, NEW: a host file holding
# the content, or "absent"); KEEP names a file that must always be intact.
# An image where every path is old is "old", all new "new"; a mix is
# accepted only where MIXED_OK says so (mv may leave both names).
judge() {  # IMAGE
    JUDGED=$1
    to_raw "$1" || { echo "wrong: cannot read the image"; return; }
    repair || return
    if [ -n "${KEEP:-}" ]; then
        fetch /keep
        matches "$KEEP" || { echo "wrong: /keep damaged$(silent)"; return; }
    fi
    all_old=1 all_new=1
    for spec in $STATES; do
        p=${spec%%:*}; rest=${spec#*:}; ov=${rest%%:*}; nv=${rest#*:}
        fetch "$p"
        isold=0; isnew=0
        matches "$ov" && isold=1
        matches "$nv" && isnew=1
        [ $isold = 1 ] || all_old=0
        [ $isnew = 1 ] || all_new=0
        if [ $isold = 0 ] && [ $isnew = 0 ]; then
            what=absent; [ -e got ] && what="$(stat -c %s got) bytes, $(tr -d '\0' <got | wc -c) non-zero"
            echo "wrong: $p is neither old nor new ($what)$(silent)"
            return
        fi
    done
    if [ $all_old = 1 ]; then echo old
    elif [ $all_new = 1 ]; then echo new
    else echo "${MIXED_OK:-wrong: a mix of old and new}"; fi
}

# ---- images --------------------------------------------------------------
# base IMAGE FMT PART: an ext4 holding /keep, /f (old), /g, /d/, with free
# space fragmented so a new /f needs an extent tree block.
base() {
    img=$1; FMT=$2; PART=$3
    rm -f "$img"
    if [ "$FMT" = qcow2 ]; then ok "make $img" qemu-img create -q -f qcow2 "$img" 32M
    else truncate -s 32M "$img"; fi
    spec=$img
    if [ -n "$PART" ]; then
        ok "partition $img" vmkit part init "$img" gpt
        ok "add partition to $img" vmkit part add "$img" --size 24M
        spec=$img:1
    fi
    ok "mkfs $spec" vmkit fs mkfs -t ext4 -b 1024 "$spec"
    for i in $(seq 1 60); do head -c 4096 /dev/urandom >s$i; done
    ok "fill $spec" vmkit fs put s* "$spec:/"
    ok "put /keep /f /g in $spec" vmkit fs put keep old gold "$spec:/"
    ok "mv old to /f" vmkit fs mv "$spec:/old" "$spec:/f"
    ok "mv gold to /g" vmkit fs mv "$spec:/gold" "$spec:/g"
    ok "mkdir /d" vmkit fs mkdir "$spec:/d"
    ok "fragment the free space of $spec" vmkit fs rm $(seq -f "$spec:/s%g" 1 2 60)
    SPEC=$spec
}

run() {  # NAME IMAGE-PRISTINE CMD... (uses $SPEC of the pristine)
    name=$1 pristine=$2; shift 2
    crash_test "$name" "cur.$FMT" "$pristine" "$K" judge "$@"
}

for layout in "raw:" "qcow2:" "raw:1" "qcow2:1"; do
    FMT=${layout%%:*} PART=${layout#*:}
    tag=$FMT${PART:+-part}
    base "p.$FMT" "$FMT" "$PART"
    cur=cur.$FMT${PART:+:1}
    MIXED_OK= KEEP=$T/keep

    STATES="/f:old:new"
    run "put-replace $tag" "p.$FMT" vmkit fs put new "$cur:/f"
    [ -n "$PART" ] && continue   # partitions: the replace path is enough

    STATES="/n:absent:new /f:old:old"
    run "put-new $tag" "p.$FMT" vmkit fs put new "$cur:/n"
    STATES="/f:old:new"
    CRASH_STDIN=new run "write $tag" "p.$FMT" vmkit fs write "$cur:/f"
    # (TMPDIR: the copies killed edits leave stay in $T)
    TMPDIR=$T EDITOR=$T/ed.sh run "edit $tag" "p.$FMT" vmkit fs edit "$cur:/f"
    CRASH_STDIN=over.tar run "put-tar $tag" "p.$FMT" vmkit fs put - "$cur:/"
    STATES="/f:old:absent /g:gold:gold"
    run "rm $tag" "p.$FMT" vmkit fs rm "$cur:/f"
    STATES="/f:old:absent /d/h:absent:old"
    MIXED_OK=mixed   # both names at worst, never neither
    run "mv $tag" "p.$FMT" vmkit fs mv "$cur:/f" "$cur:/d/h"
    STATES="/f:old:absent /g:gold:old"
    run "mv-over $tag" "p.$FMT" vmkit fs mv "$cur:/f" "$cur:/g"
    MIXED_OK=
done

# mkfs --from: every file appears whole or not at all.
mkdir -p src/a/b
cp keep src/keep
cp old src/a/old
cp new src/a/b/new
for i in $(seq 1 40); do head -c $((i * 1500)) /dev/urandom >src/a/f$i; done
: >src/empty
head -c 2000000 /dev/urandom >src/big
STATES=
for f in keep a/old a/b/new empty big $(cd src && ls a/f*); do STATES="$STATES /$f:absent:$T/src/$f"; done
# Until mkfs has finished there is no filesystem and so no file: "old".
pop_judge() {  # IMAGE
    to_raw "$1" || { echo "wrong: cannot read the image"; return; }
    if ! debugfs -R "stat /" "$DEV" 2>&1 | grep -q "Type: directory"; then echo old; return; fi
    judge "$1"
}
KEEP= MIXED_OK=mixed
for FMT in raw qcow2; do
    PART=
    rm -f "e.$FMT"
    if [ $FMT = qcow2 ]; then ok "make e.qcow2" qemu-img create -q -f qcow2 e.qcow2 32M
    else truncate -s 32M e.raw; fi
    crash_test "mkfs-from $FMT" "cur.$FMT" "e.$FMT" "$K" pop_judge \
        vmkit fs mkfs -t ext4 --from src "cur.$FMT"
done
finish
