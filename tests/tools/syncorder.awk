# syncorder.awk: does a command leave what it publishes durable, in order?
# Reads the log of `strace -f -y -qq -e trace=%file,%desc,sync_file_range`
# run in directory DIR (passed as -v dir=DIR, the command's cwd, where
# its output appears) and checks, as a power cut would see it:
#
#   1. when a file gets a name in DIR by a rename, every file written in
#      DIR has been fsync'd/fdatasync'd after its last write - a power
#      cut right after the rename must not find the named file (or the
#      extent files it names, or anything else in DIR) holding data that
#      was only in the page cache;
#   2. at exit, no file in DIR is left with unsynced writes, and DIR
#      itself was fsync'd after its last change (a create, rename or
#      unlink) - or the new names may vanish.
#
# sync_file_range is not a sync: it starts writeback, with no barrier and
# no metadata.  Prints one line per violation and exits 1 if there was
# any; prints "syncorder: N writes, M syncs, R renames" otherwise.
# Only files directly in DIR are followed (strace -y gives the path of
# each descriptor; paths are absolute).
function base(p) { sub(/.*\//, "", p); return p }
function indir(p) { return substr(p, 1, length(dir) + 1) == dir "/" && index(substr(p, length(dir) + 2), "/") == 0 }
function fdpath(s,   m) {   # "4</tmp/x/a.raw>" -> "/tmp/x/a.raw"
    if (match(s, /<[^>]*>/))
        return substr(s, RSTART + 1, RLENGTH - 2)
    return ""
}
function name_of(q,   p) {  # a quoted relative or absolute name in DIR
    sub(/\) += .*$/, "", q)     # the last argument carries the result
    gsub(/"/, "", q)
    if (q !~ /^\//)
        q = dir "/" q
    return q
}
function changed_dir() { dirdirty = 1 }
BEGIN { bad = 0; writes = syncs = renames = 0; dirdirty = 0 }
{
    line = $0
    pid = 0
    if (match(line, /^(\[pid +)?[0-9]+\]? +/)) {  # strace -f, to stderr or -o FILE
        pid = substr(line, 1, RLENGTH)
        gsub(/[^0-9]/, "", pid)
        line = substr(line, RLENGTH + 1)
    }
    if (line ~ /^(\+\+\+|---)/)
        next
    # A call another thread interrupted is logged in two pieces: join them.
    if (sub(/ <unfinished \.\.\.>$/, "", line)) {
        pending[pid] = line
        next
    }
    if (match(line, /^<\.\.\. [a-z0-9_]+ resumed>/)) {
        line = pending[pid] substr(line, RLENGTH + 1)
        delete pending[pid]
    }
    if (!match(line, /^[a-z0-9_]+\(/))
        next
    call = substr(line, 1, RLENGTH - 1)
    args = substr(line, RLENGTH + 1)
    if (line ~ /= -1 /)         # failed calls change nothing
        next
    if (call ~ /^(pwrite64|pwritev|pwritev2|write|writev|fallocate|ftruncate)$/) {
        p = fdpath(args)
        if (indir(p)) { dirty[p] = 1; writes++ }
    } else if (call == "copy_file_range") {
        split(args, a, ", ")
        p = fdpath(a[3])
        if (indir(p)) { dirty[p] = 1; writes++ }
    } else if (call ~ /^(fsync|fdatasync)$/) {
        p = fdpath(args)
        if (p == dir) { dirdirty = 0; syncs++ }
        else if (indir(p)) { dirty[p] = 0; syncs++ }
    } else if (call ~ /^(openat|open|creat)$/) {
        # a file created in DIR is a new name
        if (args ~ /O_CREAT/ || call == "creat") {
            n = split(args, a, ", ")
            q = call == "openat" ? a[2] : a[1]
            if (q ~ /^"/ && indir(name_of(q)))
                changed_dir()
        }
    } else if (call ~ /^(unlink|unlinkat)$/) {
        n = split(args, a, ", ")
        q = call == "unlinkat" ? a[2] : a[1]
        p = name_of(q)
        if (indir(p)) { delete dirty[p]; changed_dir() }
    } else if (call ~ /^(rename|renameat|renameat2|link|linkat)$/) {
        n = split(args, a, ", ")
        if (call == "rename" || call == "link") { from = a[1]; to = a[2] }
        else { from = a[2]; to = a[4] }
        f = name_of(from); t = name_of(to)
        if (!indir(t))
            next
        renames++
        for (p in dirty)
            if (dirty[p]) {
                printf "syncorder: %s gets its name while %s has unsynced writes\n", base(t), base(p)
                bad = 1
            }
        if (call ~ /^rename/ && (f in dirty)) { dirty[t] = dirty[f]; delete dirty[f] }
        changed_dir()
    }
}
END {
    for (p in dirty)
        if (dirty[p]) {
            printf "syncorder: %s has unsynced writes at exit\n", base(p)
            bad = 1
        }
    if (dirdirty) {
        printf "syncorder: %s was not synced after its last change\n", dir
        bad = 1
    }
    if (!bad)
        printf "syncorder: %d writes, %d syncs, %d renames\n", writes, syncs, renames
    exit bad
}
