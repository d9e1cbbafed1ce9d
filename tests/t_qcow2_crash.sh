#!/bin/bash
# qcow2 crash safety: a writer (tests/tools/vkio) applying random writes,
# write-zeroes and discards to a qcow2 - some over a snapshot, so shared
# clusters are copied and freed - is killed with SIGKILL at a random
# moment, many times: after it has completed a random number of commands
# (VKIO_PROGRESS), so the kill lands mid-run, and it must have died of
# the SIGKILL (exit 137).  After every kill qemu-img check must find no
# corruption (leaked clusters are allowed: exit 0 or 3, never 2), and
# vmkit img check must agree (the same exit status); then vmkit img check
# --repair all leaves it clean for qemu-img.  This proves the metadata
# write order of src/block/qcow2_int.h: refcounts before the tables that use them, frees
# only after the tables stopped using them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/img_lib.sh"
cd "$T" || exit 1
VKIO=$(dirname "$VMKIT")/tools/vkio
SIZE=$((32 << 20))

qcow2_ok

script() {
    python3 - "$1" "$SIZE" <<'PY'
import random, sys
r = random.Random(int(sys.argv[1])); size = int(sys.argv[2])
for i in range(5000):
    ln = min(int(2 ** r.uniform(0, 21)), 2 << 20)
    off = r.randrange(size - ln + 1)
    k = r.random()
    if k < 0.7:
        print("w %d %d %d" % (off, ln, r.randrange(1, 1 << 30)))
    elif k < 0.8:
        print("z %d %d" % (off, ln))
    elif k < 0.95:
        print("u %d %d" % (off, ln))
    elif k < 0.99:
        print("f")
    else:
        print("r")
PY
}

rounds=8
[ "$SAN" = 1 ] && rounds=4
# lines LOGFILE: how many lines the writer's progress log has (0 if none)
lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
for cs in 512 65536; do
    for v in 2 3; do
        compat=1.1; [ $v = 2 ] && compat=0.10
        c="cluster $cs v$v"
        rm -f c.qcow2
        ok "$c: qemu-img create" qemu-img create -q -f qcow2 -o cluster_size=$cs,compat=$compat c.qcow2 $SIZE
        script 1 2>/dev/null | head -200 >first.txt
        ok "$c: vkio writes 200 commands first" "$VKIO" c.qcow2 qcow2 <first.txt
        ok "$c: qemu-img snapshot -c base" qemu-img snapshot -c base c.qcow2
        bad=0; leaky=0; notkilled=0; disagree=0; badrepair=0; where=""
        for i in $(seq 1 $rounds); do
            script $((i * 7 + cs + v)) >s.txt
            total=$(wc -l <s.txt)
            # Kill after a random number (1-120) of completed commands,
            # plus up to 30 ms: the writer is surely mid-run, whatever
            # the machine's load (a fixed sleep could land before it
            # opened the image, and prove nothing).
            after=$((RANDOM % 120 + 1))
            rm -f prog.txt
            VKIO_PROGRESS=1 "$VKIO" c.qcow2 qcow2 <s.txt >prog.txt 2>writer.err &
            pid=$!
            for _ in $(seq 3000); do
                [ "$(lines prog.txt)" -ge $after ] && break
                kill -0 $pid 2>/dev/null || break
                sleep 0.01
            done
            sleep "0.0$((RANDOM % 3))$((RANDOM % 10))"
            kill -9 $pid 2>/dev/null
            wait $pid 2>/dev/null; wrc=$?
            n=$(grep -c '^[0-9]' prog.txt)
            where="$where $n"
            # killed by SIGKILL (128 + 9) after it had done some commands
            # and before it had done them all
            if [ $wrc != 137 ] || [ "$n" -lt 1 ] || [ "$n" -ge "$total" ] || grep -q done prog.txt; then
                notkilled=$((notkilled + 1))
                echo "    # round $i: writer exit $wrc after $n of $total commands: $(head -c 300 writer.err)"
            fi
            qemu-img check -q c.qcow2 >check.out 2>&1
            rc=$?
            [ $rc = 3 ] && leaky=$((leaky + 1))
            if [ $rc != 0 ] && [ $rc != 3 ]; then
                bad=$((bad + 1))
                cp c.qcow2 "$T/corrupt-$cs-$v-$i.qcow2"
                sed 's/^/    #   /' check.out | head -5
            fi
            vmkit img check c.qcow2 >vcheck.out 2>&1; vrc=$?
            if [ $vrc != 0 ] && [ $vrc != 3 ]; then
                bad=$((bad + 1)); sed 's/^/    #   vmkit: /' vcheck.out | head -5
            fi
            if [ $vrc != $rc ]; then
                disagree=$((disagree + 1)); echo "    # round $i: qemu-img check exit $rc, vmkit img check exit $vrc"
            fi
            # repair the leaks so the next round starts clean
            if [ $rc = 3 ] || [ $vrc = 3 ]; then
                if ! vmkit img check --repair all c.qcow2 >repair.out 2>&1 || ! qemu-img check -q c.qcow2 >/dev/null 2>&1; then
                    badrepair=$((badrepair + 1)); sed 's/^/    #   repair: /' repair.out | head -5
                fi
            fi
        done
        eq "$c: $rounds writers killed by SIGKILL mid-run (commands done:$where of 5000)" "$notkilled" 0
        eq "$c: $rounds kills, no corruption ($leaky left leaks)" "$bad" 0
        eq "$c: vmkit img check's exit status agrees with qemu-img check's" "$disagree" 0
        eq "$c: every vmkit img check --repair all left it clean for qemu-img" "$badrepair" 0
        qcheck "$c: clean after repair" c.qcow2
        has "$c: snapshot kept" "$(qemu-img snapshot -l c.qcow2)" " base "
        rm -f c.qcow2
    done
done

# Power cuts: a kill leaves every write made before it; a power cut may
# keep any subset of the writes made since the last fdatasync.  One
# vkio run (400 commands over a snapshot, the image's metadata syncs
# included) is recorded by crashpoint -r, and tests/tools/powercut.py
# rebuilds states where, of the writes between two syncs, only one or
# all but one persisted.  Each must be free of corruption for qemu-img
# check (leaks allowed) and vmkit img check must say the same.
CRASHPOINT=$(dirname "$VMKIT")/tools/crashpoint
K=$(pick 30 12 120)
for cs in 512 65536; do
    c="cluster $cs, power cuts"
    rm -f c.qcow2
    qemu-img create -q -f qcow2 -o cluster_size=$cs c.qcow2 $SIZE
    script 1 2>/dev/null | head -200 >first.txt
    "$VKIO" c.qcow2 qcow2 <first.txt && qemu-img snapshot -c base c.qcow2
    cp c.qcow2 pristine.qcow2
    script $((cs + 11)) 2>/dev/null | head -400 >s.txt
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        "$CRASHPOINT" -r pc.log 0 c.qcow2 "$VKIO" c.qcow2 qcow2 <s.txt >/dev/null 2>writer.err
    eq "$c: recorded run exits 0 ($(tail -1 writer.err))" $? 0
    python3 "$TOP/tests/tools/powercut.py" states pc.log "$K" >states.txt
    eq "$c: powercut reads the record" $? 0
    n=0 bad=0 leaky=0 disagree=0 why=
    for st in $(tail -n +2 states.txt); do
        n=$((n + 1))
        python3 "$TOP/tests/tools/powercut.py" build pc.log pristine.qcow2 c.qcow2 "$st" || { bad=$((bad + 1)); continue; }
        qemu-img check -q c.qcow2 >check.out 2>&1; rc=$?
        vmkit img check c.qcow2 >vcheck.out 2>&1; vrc=$?
        [ $rc = 3 ] && leaky=$((leaky + 1))
        if [ $rc != 0 ] && [ $rc != 3 ]; then
            bad=$((bad + 1)) why="$why $st: $(head -2 check.out | tr '\n' ' ');"
            cp c.qcow2 "$T/corrupt-pc-$cs-$n.qcow2"
        fi
        [ $vrc = $rc ] || { disagree=$((disagree + 1)) why="$why $st: qemu-img check $rc, vmkit $vrc: $(head -c 300 vcheck.out | tr '\n' ' ');"; }
    done
    echo "# $c: $n states ($(head -1 states.txt)), $leaky with leaks, $bad corrupt"
    [ -z "$why" ] || echo "# $why" | head -c 2000
    eq "$c: states rebuilt" "$([ $n -ge 2 ] && echo yes)" yes
    eq "$c: no corruption after any power cut" "$bad" 0
    eq "$c: vmkit img check's exit status agrees with qemu-img check's" "$disagree" 0
done
finish
