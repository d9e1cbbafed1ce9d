#!/bin/bash
# The crash-test tools themselves, on a writer whose writes are known:
# crashpoint -r records each write with its bytes and each sync, in
# order; powercut.py lists the states a power cut may leave and builds
# each one byte-exact (epochs split at syncs; only one / all but one
# write of an epoch; a write torn at its first or last 4 KiB page).
. "$(dirname "$0")/lib.sh"
need python3 cmp || { finish; exit; }
cd "$T" || exit 1
CRASHPOINT=$(dirname "$VMKIT")/tools/crashpoint
PC=$TOP/tests/tools/powercut.py

# The writer: epoch 0 = A (8 KiB at 0), B (100 bytes at 10000); sync;
# epoch 1 = C (5000 bytes at 2000, three pages), D (a write() at 20000).
cat >writer.py <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.pwrite(fd, b"A" * 8192, 0)
os.pwrite(fd, b"B" * 100, 10000)
os.fsync(fd)
os.pwrite(fd, b"C" * 5000, 2000)
os.lseek(fd, 20000, 0)
os.write(fd, b"D" * 10)
os.close(fd)
PY
head -c 24576 /dev/zero >pristine.img
cp pristine.img f.img
ok "recorded run" "$CRASHPOINT" -r log 0 f.img python3 writer.py f.img
run_ok states python3 "$PC" states log 100
eq "state list" "$(echo "$states" | tr '\n' ' ')" \
    "epochs 2 reorderable 2 torn 2 states 8 unsynced 2 0:only:0 0:torn:0 0:tornend:0 0:only:1 1:only:0 1:torn:0 1:tornend:0 1:only:1 "

# expect SPEC WRITES...: build SPEC, and the same by hand from pristine
# with WRITES ("OFF CHAR LEN") applied.
expect() {
    _s=$1; shift
    cp pristine.img want.img
    for w in "$@"; do
        set -- $w
        python3 -c "import os,sys; fd=os.open('want.img', os.O_RDWR); os.pwrite(fd, sys.argv[2].encode() * int(sys.argv[3]), int(sys.argv[1]))" "$1" "$2" "$3"
    done
    python3 "$PC" build log pristine.img got.img "$_s" && ok "state $_s" cmp got.img want.img
}
expect 0:only:0 "0 A 8192"
expect 0:only:1 "10000 B 100"
expect 0:torn:0 "0 A 4096"
expect 0:tornend:0 "4096 A 4096"
expect 1:only:0 "0 A 8192" "10000 B 100" "2000 C 5000"
expect 1:only:1 "0 A 8192" "10000 B 100" "20000 D 10"
expect 1:torn:0 "0 A 8192" "10000 B 100" "2000 C 2096"
expect 1:tornend:0 "0 A 8192" "10000 B 100" "4096 C 2904"
fails "an unknown state is refused" 1 python3 "$PC" build log pristine.img got.img 5:only:0
run_ok few python3 "$PC" states log 3
eq "K=3 picks 3 states, spread" "$(echo "$few" | tail -n +2 | tr '\n' ' ')" "0:only:0 0:only:1 1:only:1 "
finish
