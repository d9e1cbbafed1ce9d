#!/bin/bash
# vmkit backup prune and gc.  The retention rules (--keep-last/-hourly/
# -daily/-weekly/-monthly/-yearly) keep exactly what borg prune keeps,
# for the same rule, over the same snapshot times (set with
# VMKIT_BACKUP_NOW): the oracle is borg's own prune code (prune_split,
# applied rule by rule as borg prune does, run by the installed borg's
# Python, TZ=UTC); -n changes nothing; after a real prune and gc the kept
# snapshots verify and restore as before.  --keep-last N and gc: old snapshot files go, the kept
# ones still restore byte for byte; gc deletes exactly the chunks no
# remaining snapshot names (computed here from the JSON files, the README
# format) and stale temporary files, keeps every chunk still named (zstd
# -dc | sha256sum agrees with each name); both refuse while another
# writer holds the lock, and gc refuses when a snapshot is unreadable.
. "$(dirname "$0")/lib.sh"
need zstd sha256sum flock python3 cmp borg date || { finish; exit; }

M=$T/d.raw
ok "create a 64M disk with ext4" sh -c "truncate -s 64M '$M' && '$VMKIT' part init '$M' mbr &&
    '$VMKIT' part add '$M' --type linux && '$VMKIT' fs mkfs -t ext4 '$M:1'"
R=$T/repo
ok "backup init" vmkit backup init --chunk-size 64K "$R"
ids=()
for i in 1 2 3 4; do
    ok "file $i in" sh -c "head -c 300000 /dev/urandom >'$T/f$i' && '$VMKIT' fs put '$T/f$i' '$M:1:/f$i'"
    run_ok id vmkit backup save "$M" "$R" --name d
    ids+=("$id")
done
ok "restore snapshot 4 before pruning" vmkit backup restore "$R" "${ids[3]}" "$T/r4a.raw"

# names: the chunk files on disk; refs: what the snapshot files name
names() { find "$R/chunks" -type f -regextype egrep -regex '.*/[0-9a-f]{64}' -printf '%f\n' | sort; }
refs() { python3 -c 'import glob, json, sys
print("\n".join(sorted({e["chunk"] for f in glob.glob(sys.argv[1] + "/snapshots/*.json")
                        for e in json.load(open(f))["extents"]})))' "$R"; }

fails_with "prune without a rule is a usage error" 2 "a retention rule is required: --keep-last" \
    vmkit backup prune "$R"
fails_with "a negative N is a usage error" 2 "--keep-daily: N must be 0 or more, not -1" \
    vmkit backup prune --keep-daily=-1 "$R"
fails_with "  also given apart" 2 "--keep-weekly: N must be 0 or more, not -3" \
    vmkit backup prune -w -3 "$R"
fails_with "garbage N is a usage error" 2 "--keep-monthly: 'x2' is not a whole number" \
    vmkit backup prune --keep-monthly x2 "$R"
fails_with "  and an empty one" 2 "--keep-yearly: '' is not a whole number" \
    vmkit backup prune --keep-yearly= "$R"
eq "usage errors removed nothing" "$(ls "$R/snapshots" | wc -l)" 4
fails_with "prune waits for no writer: refused while locked" 1 "locked" \
    flock "$R/lock" "$VMKIT" backup prune --keep-last 1 "$R"
fails_with "gc refused while locked" 1 "locked" flock "$R/lock" "$VMKIT" backup gc "$R"
run_ok out vmkit backup prune --keep-last 2 "$R"
eq "prune names the two oldest" "$out" "removed ${ids[0]}
removed ${ids[1]}"
eq "two snapshot files are left" "$(ls "$R/snapshots")" "${ids[2]}.json
${ids[3]}.json"
fails_with "a pruned snapshot is gone" 1 "no snapshot" vmkit backup info "$R" "${ids[0]}"
ok "before gc, unreferenced chunks remain" test "$(names | wc -l)" -gt "$(refs | wc -l)"

ok "a stale temporary chunk and snapshot file" sh -c "touch '$R/chunks/00/.tmp-123' '$R/snapshots/.x.json.tmp-9'"
ok "a file that is not a chunk is left alone" touch "$R/chunks/00/README"
run_ok out vmkit backup gc "$R"
has "gc reports the temporary files" "$out" "2 temporary files removed"
eq "after gc the chunk files are exactly those named" "$(names)" "$(refs)"
ok "temporary files gone" test ! -e "$R/chunks/00/.tmp-123" -a ! -e "$R/snapshots/.x.json.tmp-9"
ok "the stranger stays" test -e "$R/chunks/00/README"
rm -f "$R/chunks/00/README"
ok "every chunk left decompresses to its name" sh -c "for f in \$(find '$R/chunks' -type f); do
    [ \"\$(zstd -dc <\"\$f\" | sha256sum | cut -c1-64)\" = \"\$(basename \"\$f\")\" ] || exit 1; done"
ok "verify --read-data is clean" vmkit backup verify --read-data "$R"
ok "snapshot 4 restores after gc" vmkit backup restore "$R" "${ids[3]}" "$T/r4b.raw"
ok "  identical to before" cmp "$T/r4a.raw" "$T/r4b.raw"
run_ok out vmkit backup gc "$R"
has "a second gc removes nothing" "$out" "0 chunks removed, 0 temporary"

ok "keep-last 0 removes every snapshot" vmkit backup prune --keep-last 0 "$R"
ok "damage: an unreadable snapshot file" sh -c "echo '{' >'$R/snapshots/20990101T000000Z-00000000.json'"
n=$(names | wc -l)
fails_with "gc refuses with an unreadable snapshot" 1 "gc refused" vmkit backup gc "$R"
eq "  and deleted nothing" "$(names | wc -l)" "$n"
rm "$R/snapshots/20990101T000000Z-00000000.json"
ok "gc with no snapshots" vmkit backup gc "$R"
eq "  leaves no chunk" "$(names | wc -l)" 0
# ---- the retention rules, against borg prune over the same times ----
R2=$T/repo2
ok "backup init (second repository)" vmkit backup init --chunk-size 64K "$R2"
# across a year, the ISO week 2026-W01 (Mon 2025-12-29 .. Sun 2026-01-04)
# and a month; three on one day
times=(2025-06-15T00:00:00 2025-12-28T10:00:00 2025-12-29T10:00:00 2025-12-31T23:00:00
       2026-01-01T01:00:00 2026-01-04T10:00:00 2026-01-05T10:00:00 2026-01-05T20:00:00
       2026-01-05T20:30:00)
sid=()      # sid[i]: vmkit's id of snapshot si
for i in "${!times[@]}"; do
    run_ok now date -u -d "${times[$i]}Z" +%s
    ok "g$i in" sh -c "head -c 100000 /dev/urandom >'$T/g$i' && '$VMKIT' fs put '$T/g$i' '$M:1:/g$i'"
    export VMKIT_BACKUP_NOW=$now
    run_ok id vmkit backup save "$M" "$R2" --name "s$i"
    unset VMKIT_BACKUP_NOW
    sid+=("$id")
    eq "s$i's id starts with its time" "${id:0:15}" "$(date -u -d "${times[$i]}Z" +%Y%m%dT%H%M%S)"
done
ok "restore s0 before pruning" vmkit backup restore "$R2" s0 "$T/s0a.raw"
ok "restore s1 before pruning" vmkit backup restore "$R2" s1 "$T/s1a.raw"

# "sN RULE#K" or "sN -" per snapshot, sorted, from vmkit prune -n --list
vk_names() {
    local s=$1 i
    for i in "${!sid[@]}"; do s=${s//"${sid[$i]}"/s$i}; done
    printf '%s\n' "$s" | sed -E 's/^keep (s[0-9]+) \(([a-z]+(\[oldest\])?) #([0-9]+)\)$/\1 \2#\4/
        s/^would remove (s[0-9]+)$/\1 -/' | sort
}
# borg's verdicts for vmkit's options $2.. over the times $1, the same way
borg_prune() {
    TZ=UTC "$borgpy" - "$@" <<'PY'
import sys, datetime, collections
from borg.helpers import prune_split, PRUNING_PATTERNS
A = collections.namedtuple('A', 'id ts')
arch = [A('s%d' % i, datetime.datetime.fromisoformat(t).replace(tzinfo=datetime.timezone.utc))
        for i, t in enumerate(sys.argv[1].split())]
opt = {'--keep-last': 'secondly', '-H': 'hourly', '--keep-daily': 'daily', '-d': 'daily',
       '--keep-weekly': 'weekly', '-w': 'weekly', '--keep-monthly': 'monthly', '-m': 'monthly',
       '-y': 'yearly', '--keep-yearly': 'yearly'}
a = sys.argv[2:]
n = {opt[a[i]]: int(a[i + 1]) for i in range(0, len(a), 2)}
why = {}
for rule in PRUNING_PATTERNS:           # as borg prune: secondly .. yearly
    if rule in n:
        prune_split(arch, rule, n[rule], why)
for x in arch:
    r = why.get(x.id)
    print(x.id, '-' if r is None else '%s#%d' % (r[0].replace('secondly', 'last'), r[1]))
PY
}
borgpy=$(sed -n '1s/^#! *//p' "$(command -v borg)")
ok "borg's Python has borg's prune" "$borgpy" -c 'from borg.helpers import prune_split'
gfs="--keep-last 1 -d 2 -w 2 -m 2 -y 3"
for pol in "--keep-daily 2" "--keep-weekly 3" "-H 3 -m 1" "--keep-weekly 20" "$gfs" \
           "--keep-last 3 --keep-yearly 1" "--keep-monthly 3 --keep-daily 0"; do
    run_ok out vmkit backup prune -n --list $pol "$R2"
    run_ok want borg_prune "${times[*]}" $pol
    want=$(printf '%s\n' "$want" | sort)
    eq "borg's prune $pol judges all 9" "$(printf '%s\n' "$want" | grep -c .)" 9
    eq "  vmkit keeps the same, for the same rule" "$(vk_names "$out")" "$want"
done
# by hand: last keeps s8; daily passes 01-05 (s8 kept), keeps s5, s4;
# weekly passes W02 and W01 (their newest kept), keeps s1 (2025-W52), s0;
# monthly passes 2026-01, keeps s3 (2025-12); yearly passes 2026, 2025
run_ok out vmkit backup prune -n --list $gfs "$R2"
eq "$gfs, by hand" "$(vk_names "$out")" "s0 weekly#2
s1 weekly#1
s2 -
s3 monthly#1
s4 daily#2
s5 daily#1
s6 -
s7 -
s8 last#1"
run_ok out vmkit backup prune -n $gfs "$R2"
eq "-n without --list names only what would go" "$out" "would remove ${sid[2]}
would remove ${sid[6]}
would remove ${sid[7]}"
eq "-n removed nothing" "$(ls "$R2/snapshots" | wc -l)" 9

ok "a snapshot file whose id is not a time" touch "$R2/snapshots/manual.json"
fails_with "prune refuses it" 1 "manual.json: the id does not start with the time" \
    vmkit backup prune $gfs "$R2"
eq "  and removed nothing" "$(ls "$R2/snapshots" | wc -l)" 10
rm "$R2/snapshots/manual.json"

# a prune killed after its first unlink (oldest first) left s2 gone: run
# again, it decides the same for the rest and removes only s6 and s7
ok "a prune interrupted after removing s2" rm "$R2/snapshots/${sid[2]}.json"
run_ok out vmkit backup prune $gfs "$R2"
eq "prune $gfs, run again, removes the rest: s6, s7" "$out" "removed ${sid[6]}
removed ${sid[7]}"
eq "the kept snapshot files are left" "$(ls "$R2/snapshots")" "$(for i in 0 1 3 4 5 8; do echo "${sid[$i]}.json"; done)"
none "the same prune again removes nothing" vmkit backup prune $gfs "$R2"
n=$(R=$R2 names | wc -l)
ok "gc" vmkit backup gc "$R2"
ok "  deleted the chunks only the pruned snapshots named" test "$(R=$R2 names | wc -l)" -lt "$n"
eq "the chunk files are exactly those named" "$(R=$R2 names)" "$(R=$R2 refs)"
ok "verify --read-data after prune and gc" vmkit backup verify --read-data "$R2"
ok "restore kept s0 after gc" vmkit backup restore "$R2" s0 "$T/s0b.raw"
ok "  identical to before" cmp "$T/s0a.raw" "$T/s0b.raw"
ok "restore kept s1 after gc" vmkit backup restore "$R2" s1 "$T/s1b.raw"
ok "  identical to before" cmp "$T/s1a.raw" "$T/s1b.raw"
finish
