#!/bin/bash
# Crash injection on FAT: every write path (put over existing files, put
# of new files, write, edit, mv, rm -r, mkfs --from, mkdir, rmdir, touch,
# chmod) on FAT32 and FAT16 (FAT12 once), in raw and in qcow2 images and in
# a partition, killed with SIGKILL before its Nth write to the image
# (tests/crash_lib.sh), at points spread over the whole run.  After each
# kill: qemu-img check finds no corruption (qcow2), vmkit still reads every
# file of the crashed image, and after fsck.fat -a on a raw copy (which
# must then pass fsck.fat -n) mtools reads every file with exactly its old
# or its new content, never zeros or a cut-off file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/crash_lib.sh"
export MTOOLS_SKIP_CHECK=1
cd "$T" || exit 1
K=${FATCRASH_K:-$(pick 3 2 10)}

# --- content: old and new versions (sizes cross cluster boundaries) ---
mkdir -p old/docs new/docs
head -c 7000 /dev/urandom >old/docs/a.txt
head -c 30000 /dev/urandom >old/docs/b.bin
echo "old c" >old/docs/c.txt
head -c 600 /dev/urandom >old/top.txt
head -c 9000 /dev/urandom >"new/docs/a.txt"
head -c 2100 /dev/urandom >"new/docs/b.bin"
: >"new/docs/c.txt"
head -c 12000 /dev/urandom >"new/docs/A new file with a long name.dat"
head -c 5000 /dev/urandom >new/top.txt
: >new/empty
printf '#!/bin/sh\ncp %s "$1"\n' "$T/new/top.txt" >editor.sh
chmod +x editor.sh

# pristine FAT image (raw) of bits 12/16/32 with the old tree, by
# mkfs.fat and mcopy
make_fat() {  # BITS OUT
    case $1 in 12) kb=1440 ;; 16) kb=4096 ;; 32) kb=34000 ;; esac
    rm -f "$2"
    mkfs.fat -C -F "$1" -s 1 "$2" "$kb" >/dev/null || return 1
    mcopy -s -i "$2" old/docs old/top.txt ::/ && mmd -i "$2" ::/moved ::/emptydir
}

# Wrap the raw FAT image for the layout: raw, qcow2, or a partition at
# 1 MiB of an MBR disk in qcow2.  Prints the vmkit target prefix.
POFF=0
wrap() {  # LAYOUT RAWFAT OUT
    case $1 in
    raw) cp "$2" "$3" ;;
    qcow2) qemu-img convert -f raw -O qcow2 "$2" "$3" ;;
    part)
        sz=$(stat -c %s "$2")
        truncate -s $((sz + 2 * 1048576)) disk.raw
        echo "2048,$((sz / 512)),c" | sfdisk -q disk.raw >/dev/null &&
            dd if="$2" of=disk.raw bs=1M seek=1 conv=notrunc,sparse status=none &&
            qemu-img convert -f raw -O qcow2 disk.raw "$3" && rm -f disk.raw ;;
    esac
}

# The FAT filesystem of a crashed image as a raw file.
unwrap() {  # LAYOUT IMAGE OUT
    case $1 in
    raw) cp "$2" "$3" ;;
    qcow2) qemu-img convert -f qcow2 -O raw "$2" "$3" ;;
    part) qemu-img convert -f qcow2 -O raw "$2" "$3.disk" &&
          dd if="$3.disk" of="$3" bs=1M skip=1 conv=sparse status=none && rm -f "$3.disk" ;;
    esac
}

# Checksums of every old and new version, computed once: H[file].
declare -A H
while read -r sum f; do H[$f]=$sum; done < <(find old new -type f -print0 | xargs -0 md5sum)

# Checksums of the files of a tree extracted by a reader: G[path].
declare -A G
sums() {  # DIR
    G=()
    local sum f
    while read -r sum f; do G[${f#"$1"}]=$sum; done < <(cd "$1" && find . -type f -print0 | xargs -0 -r md5sum | sed 's# \./# /#')
}

# Every spec line "PATH|OLD|NEW[|dup]" (OLD, NEW: host files or - for
# absent) against G: counts o and n (a file whose versions are equal
# counts for neither), or prints "wrong: ..." and fails.  "dup" (mv): an
# empty file is allowed too, counted in d.  A kill between the two
# directory writes of a rename shows the file under both names, sharing
# its clusters (as on Linux and Windows, FAT has no atomic rename across
# entries); fsck.fat -a then empties one of the two.  The caller checks
# that the content survived under the other name.
judge() {  # READER
    local p old new alt got
    while IFS='|' read -r p old new alt; do
        got=${G[$p]:--}
        [ "$old" = "$new" ] && [ "$got" = "${H[$old]:--}" ] && continue
        if [ "$got" = "${H[$old]:--}" ] || { [ "$old" = - ] && [ "$got" = - ]; }; then o=$((o + 1))
        elif [ "$got" = "${H[$new]:--}" ] || { [ "$new" = - ] && [ "$got" = - ]; }; then n=$((n + 1))
        elif [ "$alt" = dup ] && [ "$got" = "${H[new/empty]}" ]; then d=$((d + 1))
        else echo "wrong: $p ($1: $([ "$got" = - ] && echo absent || echo "other content"))"; return 1; fi
    done <"$SPEC"
    if [ $d != 0 ] && [ $((o + n)) = 0 ]; then echo "wrong: the moved file is lost ($1)"; return 1; fi
}

# The verdict: the qcow2 sound; vmkit reads every file of the crashed
# image old or new; fsck.fat -a repairs a raw copy to fsck.fat -n clean,
# and there mtools reads every file old or new.  mkfs cases (MKFS=1): no
# filesystem yet counts as old.
LAYOUT=raw MKFS=0 VSUF= EXTRA=
verdict() {  # IMAGE
    local o=0 n=0 d=0 rc c
    if [ "$LAYOUT" != raw ]; then
        qemu-img check -q "$1" >/dev/null 2>&1
        rc=$?; [ $rc = 0 ] || [ $rc = 3 ] || { echo "wrong: qemu-img check exit $rc"; return; }
    fi
    unwrap "$LAYOUT" "$1" fs.raw || { echo "wrong: cannot unwrap"; return; }
    if [ "$MKFS" = 1 ] && [ "$(od -An -tx1 -j510 -N2 fs.raw | tr -d ' ')" != 55aa ]; then
        echo old; return    # killed before the boot sector: no filesystem, as before
    fi
    if [ "$MKFS" = 0 ]; then
        rm -rf vv
        "$VMKIT" fs get -r "$1$VSUF:/" vv >vv.err 2>&1 || { echo "wrong: vmkit cannot read: $(tail -1 vv.err)"; return; }
        sums vv
        judge "vmkit on the crashed image" || return
        o=0 n=0 d=0
    fi
    fsck.fat -a fs.raw >fsck.out 2>&1
    rc=$?; [ $rc -le 1 ] || { echo "wrong: fsck.fat -a exit $rc: $(tail -1 fsck.out)"; return; }
    fsck.fat -n fs.raw >fsck2.out 2>&1 || { echo "wrong: not clean after fsck.fat -a: $(head -3 fsck2.out | tr '\n' ' ')"; return; }
    rm -rf mm; mkdir mm
    mcopy -s -n -i fs.raw ::/ mm/ 2>mm.err || { echo "wrong: mcopy: $(tail -1 mm.err)"; return; }
    sums mm
    judge mtools || return
    if [ -n "$EXTRA" ]; then
        c=$("$EXTRA" fs.raw)
        case $c in old) o=$((o + 1)) ;; new) n=$((n + 1)) ;; *) echo "wrong: $c"; return ;; esac
    fi
    [ $d = 0 ] || echo dup >>"$T/dups"    # (a subshell: count in a file)
    if [ $d != 0 ]; then echo mixed; elif [ $n = 0 ]; then echo old; elif [ $o = 0 ]; then echo new; else echo mixed; fi
}

# CRASH_CLEAN: after the uninterrupted run, fsck.fat -n finds nothing
# at all (no lost clusters either).
fat_clean() {  # IMAGE
    unwrap "$LAYOUT" "$1" clean.raw && fsck.fat -n clean.raw
}
export CRASH_CLEAN=fat_clean

# run_case NAME BITS LAYOUT CMD... (IMG in CMD stands for the target)
run_case() {
    name=$1 bits=$2 LAYOUT=$3; shift 3
    make_fat "$bits" pristine.raw || { eq "$name: setup" fail ok; return; }
    [ "$MKFS" = 1 ] && { rm -f pristine.raw; truncate -s $(( bits == 16 ? 4096 * 1024 : 34000 * 1024 )) pristine.raw; }
    ext=$([ "$LAYOUT" = raw ] && echo img || echo qcow2)
    rm -f "pristine.$ext"
    wrap "$LAYOUT" pristine.raw "pristine.$ext" || { eq "$name: wrap" fail ok; return; }
    VSUF=$([ "$LAYOUT" = part ] && echo :1)
    TGT=$T/c.$ext$VSUF
    local a=() x
    for x in "$@"; do a+=("${x//IMG/$TGT}"); done
    crash_test "$name" "$T/c.$ext" "pristine.$ext" "$K" verdict "${a[@]}"
}

# A rename: its verdicts "mixed" are the file under both names.
mv_case() {
    : >"$T/dups"
    run_case "$@"
    echo "# $1: $(wc -l <"$T/dups") crash points left the file under both names (fsck.fat -a emptied one)"
}

spec() { printf '%s\n' "$@" >spec.txt; SPEC=$T/spec.txt; }
docs_spec() {  # DIR [OLD-A OLD-B OLD-C]: new versions of docs/* put into DIR
    spec "$1/a.txt|${2:--}|new/docs/a.txt" "$1/b.bin|${3:--}|new/docs/b.bin" \
         "$1/c.txt|${4:--}|new/docs/c.txt" "$1/A new file with a long name.dat|-|new/docs/A new file with a long name.dat"
}

for combo in "32 raw" "32 qcow2" "16 raw" "16 qcow2"; do
    set -- $combo
    b=$1 l=$2 tag="fat$1 $2"
    docs_spec /docs old/docs/a.txt old/docs/b.bin old/docs/c.txt
    run_case "put-replace $tag" "$b" "$l" vmkit fs put -r new/docs IMG:/
    docs_spec /fresh
    run_case "put-new $tag" "$b" "$l" vmkit fs put -r new/docs IMG:/fresh
    spec "/top.txt|old/top.txt|new/top.txt"
    CRASH_STDIN=new/top.txt run_case "write $tag" "$b" "$l" vmkit fs write IMG:/top.txt
    TMPDIR=$T EDITOR=$T/editor.sh run_case "edit $tag" "$b" "$l" vmkit fs edit IMG:/top.txt
    spec "/docs/a.txt|old/docs/a.txt|-|dup" "/moved/A renamed file.txt|-|old/docs/a.txt|dup"
    mv_case "mv $tag" "$b" "$l" vmkit fs mv IMG:/docs/a.txt "IMG:/moved/A renamed file.txt"
    spec "/docs/b.bin|old/docs/b.bin|-|dup" "/top.txt|old/top.txt|old/docs/b.bin|dup"
    mv_case "mv-over $tag" "$b" "$l" vmkit fs mv IMG:/docs/b.bin IMG:/top.txt
    spec "/docs/a.txt|old/docs/a.txt|-" "/docs/b.bin|old/docs/b.bin|-" "/docs/c.txt|old/docs/c.txt|-"
    run_case "rm -r $tag" "$b" "$l" vmkit fs rm -r IMG:/docs
    docs_spec ""
    MKFS=1 run_case "mkfs --from $tag" "$b" "$l" vmkit fs mkfs -t vfat -F "$b" --cluster-size=512 --from new/docs IMG
    MKFS=0
done
# Old or new for what the spec cannot say: an attribute, a directory.
x_chmod() { case $(mattrib -i "$1" ::/top.txt) in *R*) echo new ;; *) echo old ;; esac; }
x_dir() {  # RAW PATH ABSENT-VERDICT PRESENT-VERDICT: present means empty
    if out=$(mdir -b -i "$1" "::$2" 2>&1); then
        [ -z "$(echo "$out" | grep -v '/\.\.\?$')" ] && echo "$4" || echo "not empty: $out"
    elif echo "$out" | grep -q "not found"; then echo "$3"
    else echo "mdir: $out"; fi
}
x_mkdir() { x_dir "$1" "/A new directory" old new; }
x_rmdir() { x_dir "$1" /emptydir new old; }
for combo in "32 qcow2" "16 raw"; do
    set -- $combo
    b=$1 l=$2 tag="fat$1 $2"
    spec "/top.txt|old/top.txt|old/top.txt" "/New file.txt|-|new/empty"
    run_case "touch $tag" "$b" "$l" vmkit fs touch "IMG:/New file.txt"
    spec "/top.txt|old/top.txt|old/top.txt"
    EXTRA=x_chmod run_case "chmod $tag" "$b" "$l" vmkit fs chmod 0444 IMG:/top.txt
    EXTRA=x_mkdir run_case "mkdir $tag" "$b" "$l" vmkit fs mkdir "IMG:/A new directory"
    EXTRA=x_rmdir run_case "rmdir $tag" "$b" "$l" vmkit fs rm -r IMG:/emptydir
    EXTRA=
done
docs_spec /docs old/docs/a.txt old/docs/b.bin old/docs/c.txt
run_case "put-replace fat12 raw" 12 raw vmkit fs put -r new/docs IMG:/
run_case "put-replace fat32 partition" 32 part vmkit fs put -r new/docs IMG:/
spec "/docs/a.txt|old/docs/a.txt|-" "/docs/b.bin|old/docs/b.bin|-" "/docs/c.txt|old/docs/c.txt|-"
run_case "rm -r fat16 partition" 16 part vmkit fs rm -r IMG:/docs
finish
