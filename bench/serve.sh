#!/bin/bash
# vmkit serve: GET /api/vms latency with N paused VMs (BENCH_VMS, default
# 10: 32 MiB each, a 1 MiB boot-sector disk, started with -p so they cost
# no CPU under TCG) plus one defined VM, over one kept-alive connection
# (curl, 100 requests; curl's time_total per request), and the same list
# from `vmkit list -l --json` (a process per run) for comparison.  Target
# (issue 16): the API under 10 ms.  Medians and 90th percentiles.
#   BENCH_VMS=4 bash bench/serve.sh   for a quicker run.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMKIT=${VMKIT:-$TOP/build/vmkit}
NVM=${BENCH_VMS:-10}
D=$(mktemp -d "${TMPDIR:-/tmp}/vmkit-bench.XXXXXX")
export VMKIT_RUNTIME_DIR=$D/run VMKIT_CONFIG_DIR=$D/etc
mkdir -p -m 700 "$D/run" "$D/etc"
SPID=""
cleanup() {
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
    for d in "$D"/run/*/; do
        [ -d "$d" ] && "$VMKIT" destroy "$(basename "$d")" >/dev/null 2>&1
    done
    rm -rf "$D"
}
trap cleanup EXIT
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "median %.2f ms, p90 %.2f ms (%d runs)\n", v[int((NR + 1) / 2)], v[int(NR * 0.9 + 0.5)], NR }'; }

for i in $(seq "$NVM"); do
    python3 "$TOP/tests/fixtures/bootsector.py" bench "$D/bs$i.img" 1048576
    printf 'name = "p%s"\nmemory = 32\nboot = "c"\nvif = []\nvnc = 0\ndisk = [ "format=raw, vdev=hda, access=rw, target=%s" ]\n' \
        "$i" "$D/bs$i.img" >"$D/p$i.cfg"
    "$VMKIT" create "$D/p$i.cfg" -p || { echo "FAILED: vmkit create -p ($i)"; exit 1; }
done
printf 'name = "defined"\nmemory = 32\nvif = []\nvnc = 0\n' >"$D/def.cfg"
"$VMKIT" define "$D/def.cfg" || { echo "FAILED: vmkit define"; exit 1; }

"$VMKIT" serve --listen 127.0.0.1:0 >"$D/out" 2>"$D/err" &
SPID=$!
URL=""
for _ in $(seq 600); do
    URL=$(sed -n 's/^vmkit serve: open //p' "$D/out")
    [ -n "$URL" ] && break
    sleep 0.05
done
[ -n "$URL" ] || { echo "FAILED: serve did not start"; cat "$D/err"; exit 1; }
BASE=${URL%%/#*}
n=$(curl -s "$BASE/api/vms" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
[ "$n" = $((NVM + 1)) ] || { echo "FAILED: the API lists $n VMs, not $((NVM + 1))"; exit 1; }

echo "GET /api/vms with $NVM paused VMs and 1 defined, kept-alive connection:"
args=()
for _ in $(seq 100); do args+=("$BASE/api/vms" -o /dev/null -w '%{time_total}\n'); done
curl -s "${args[@]}" | awk '{ printf "%.3f\n", $1 * 1000 }' | stats
echo "vmkit list -l --json --all (a new process each time), for comparison:"
for _ in $(seq 30); do
    s=$(date +%s%N); "$VMKIT" list -l --json --all >/dev/null; e=$(date +%s%N)
    echo $(( (e - s) / 1000 ))
done | awk '{ printf "%.3f\n", $1 / 1000 }' | stats
