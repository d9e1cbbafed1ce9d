#!/bin/bash
# vmkit backup prune --keep-last N and gc: old snapshot files go, the kept
# ones still restore byte for byte; gc deletes exactly the chunks no
# remaining snapshot names (computed here from the JSON files, the README
# format) and stale temporary files, keeps every chunk still named (zstd
# -dc | sha256sum agrees with each name); both refuse while another
# writer holds the lock, and gc refuses when a snapshot is unreadable.
. "$(dirname "$0")/lib.sh"
need zstd sha256sum flock python3 cmp || { finish; exit; }

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
    sleep 1     # ids sort by the second they were made in
done
ok "restore snapshot 4 before pruning" vmkit backup restore "$R" "${ids[3]}" "$T/r4a.raw"

# names: the chunk files on disk; refs: what the snapshot files name
names() { find "$R/chunks" -type f -regextype egrep -regex '.*/[0-9a-f]{64}' -printf '%f\n' | sort; }
refs() { python3 -c 'import glob, json, sys
print("\n".join(sorted({e["chunk"] for f in glob.glob(sys.argv[1] + "/snapshots/*.json")
                        for e in json.load(open(f))["extents"]})))' "$R"; }

fails_with "prune without --keep-last is a usage error" 2 "--keep-last" vmkit backup prune "$R"
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
finish
