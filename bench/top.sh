#!/bin/bash
# vmkit top -b -i 1 with N paused VMs (BENCH_VMS, default 10: memory 32
# MiB, each a 1 MiB disk with a BIOS boot sector, started with -p so they
# cost no CPU under TCG), against the same figures gathered by hand in the
# same run: a python3 script that, per VM, connects to its QMP socket,
# runs query-blockstats and query-cpus-fast, and reads the vCPU threads'
# times and QEMU's RSS from /proc.  Alternating runs, 20 each; medians of
# the wall time of the whole command (process start included) and the
# ratio vmkit/script (target: vmkit under 50 ms).  Also printed: the
# script's own time without the interpreter's start-up, vmkit top's CPU
# time, and `vmkit list` (no QMP at all) in the same runs, which shows
# what the machine's load adds to any vmkit command.
#   BENCH_VMS=4 bash bench/top.sh   for a quicker run.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMKIT=${VMKIT:-$TOP/build/vmkit}
NVM=${BENCH_VMS:-10}
. "$TOP/bench/lib.sh"   # vm_scratch, start_paused
vm_scratch
median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.0f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

start_paused "$NVM" top || exit 1

# The same figures by hand: QMP per VM, /proc for CPU and RSS.
cat >"$D/byhand.py" <<'PY'
import json, os, socket, sys, time
t0 = time.monotonic()
run = os.environ["VMKIT_RUNTIME_DIR"]
hz, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGESIZE")
def qmp(path, cmds):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(path)
    f = s.makefile("rw")
    json.loads(f.readline())
    out = []
    for c in ["qmp_capabilities"] + cmds:
        f.write(json.dumps({"execute": c}) + "\n"); f.flush()
        while True:
            r = json.loads(f.readline())
            if "event" not in r:
                break
        out.append(r.get("return"))
    s.close()
    return out[1:]
rows = []
for name in sorted(os.listdir(run)):
    d = os.path.join(run, name)
    if not os.path.exists(os.path.join(d, "pid")):
        continue                    # the base's .lock
    pid = int(open(os.path.join(d, "pid")).read())
    bs, cpus = qmp(os.path.join(d, "qmp-cli.sock"), ["query-blockstats", "query-cpus-fast"])
    cpu = 0
    for tid in {c["thread-id"] for c in cpus}:
        st = open("/proc/%d/task/%d/stat" % (pid, tid)).read().rsplit(")", 1)[1].split()
        cpu += (int(st[11]) + int(st[12])) / hz
    rss = int(open("/proc/%d/statm" % pid).read().split()[1]) * page
    rd = sum(b["stats"]["rd_bytes"] for b in bs)
    wr = sum(b["stats"]["wr_bytes"] for b in bs)
    rows.append((name, cpu, rss, rd, wr))
for r in rows:
    print("%s %.2f %d %d %d" % r)
print("inner %.3f" % ((time.monotonic() - t0) * 1000), file=sys.stderr)
PY

n=$("$VMKIT" top -b -i 1 | grep -c '^paused.* paused ')
echo "vmkit top -b -i 1 with $n paused VMs, against QMP + /proc by hand (python3), 20 runs each"
: >"$D/tv"; : >"$D/tq"; : >"$D/ti"; : >"$D/tl"; : >"$D/tc"
for _ in $(seq 20); do
    s=$(date +%s%N)
    python3 "$D/byhand.py" >/dev/null 2>>"$D/inner" || { echo "FAILED: by hand"; cat "$D/inner"; exit 1; }
    e=$(date +%s%N)
    echo $(( (e - s) / 1000 )) >>"$D/tq"
    s=$(date +%s%N)
    "$VMKIT" top -b -i 1 >/dev/null || { echo "FAILED: vmkit top"; exit 1; }
    e=$(date +%s%N)
    echo $(( (e - s) / 1000 )) >>"$D/tv"
    # what the machine's load adds: vmkit list (no QMP) as the floor, and
    # the CPU time top itself uses
    s=$(date +%s%N)
    "$VMKIT" list >/dev/null || { echo "FAILED: vmkit list"; exit 1; }
    e=$(date +%s%N)
    echo $(( (e - s) / 1000 )) >>"$D/tl"
    /usr/bin/time -f "%U %S" -o "$D/cpu1" "$VMKIT" top -b -i 1 >/dev/null
    awk '{ printf "%.0f\n", ($1 + $2) * 1000000 }' "$D/cpu1" >>"$D/tc"
done
sed -n 's/^inner //p' "$D/inner" >"$D/ti"
tv=$(median <"$D/tv"); tq=$(median <"$D/tq"); ti=$(median <"$D/ti")
echo "by hand (python3): median $(echo "scale=1; $tq / 1000" | bc) ms (of which the QMP and /proc work: $ti ms)"
echo "vmkit top -b -i 1: median $(echo "scale=1; $tv / 1000" | bc) ms (target < 50 ms)"
echo "ratio vmkit/by hand: $(echo "scale=2; $tv / $tq" | bc)"
echo "vmkit top's own CPU time (user + system): median $(echo "scale=1; $(median <"$D/tc") / 1000" | bc) ms;" \
     "vmkit list (no QMP) in the same runs: median $(echo "scale=1; $(median <"$D/tl") / 1000" | bc) ms;" \
     "load $(cut -d' ' -f1 /proc/loadavg)"
s=$(date +%s%N); "$VMKIT" top --json -i 1 >/dev/null; e=$(date +%s%N)
echo "vmkit top --json -i 1: $(( (e - s) / 1000000 )) ms"
[ "$n" = "$NVM" ]
