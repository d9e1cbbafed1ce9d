# syncorder.awk: does a command leave what it publishes durable, in order?
# Reads the log of `strace -f -y -qq -e trace=%file,%desc,sync_file_range`
# of a command run in directory DIR (passed as -v dir=DIR: the command's
# cwd, where its output appears) and checks, as a power cut would see it,
# every file and directory below DIR:
#
#   1. when a file gets a name by a rename (or link), every file written
#      below DIR has been fsync'd/fdatasync'd after its last write, and
#      every directory but the rename's own has been fsync'd after its
#      last new or removed entry - a power cut right after the rename must
#      not find the named file (or the extent files or chunks it names)
#      holding data, or names, that were only in the page cache;
#   2. at exit, no file is left with unsynced writes and no directory with
#      unsynced new entries (a create, mkdir or rename into it) - or the
#      new names may vanish.
#
# Files and directories the command removes before it exits (scratch
# space) need no sync: a violation is reported only for what still
# exists at exit.  Removals need no directory sync either (a power cut
# can bring back a removed scratch file, not lose data), nor does an
# empty file it creates and never writes (a lock file).
#
# -v commit=REGEX: only a rename whose new name matches REGEX is a commit
# point checked by rule 1 (a backup snapshot, not each chunk it names);
# by default every rename is.
#
# sync_file_range is not a sync: it starts writeback, with no barrier and
# no metadata.  Prints one line per violation and exits 1 if there was
# any; prints "syncorder: N writes, M syncs, R renames" otherwise.
# strace -y gives the path of each descriptor; names relative to a
# directory descriptor (openat...) are resolved against its path, others
# against DIR (a command that changes directory is not followed).
function base(p) { sub(/.*\//, "", p); return p }
function parent(p) { sub(/\/[^\/]*$/, "", p); return p }
function indir(p) { return p == dir || substr(p, 1, length(dir) + 1) == dir "/" }
function fdpath(s,   m) {   # "4</tmp/x/a.raw>", "AT_FDCWD</tmp/x>" -> the path
    if (match(s, /<[^>]*>/))
        return substr(s, RSTART + 1, RLENGTH - 2)
    return ""
}
# A violation about path p, kept until the end: it stands only if p still
# exists then.
function blame(p, msg) { if (!((p, msg) in said)) { said[p, msg] = 1; blamed[++nblamed] = p; why[nblamed] = msg } }
function name_of(q, at,   p) {  # a quoted name, relative to the path at (or DIR)
    sub(/\) += .*$/, "", q)     # the last argument carries the result
    gsub(/"/, "", q)
    if (q !~ /^\//)
        q = (at != "" ? at : dir) "/" q
    while (sub(/\/\.\//, "/", q))
        ;
    sub(/\/\.$/, "", q)
    return q
}
# A new entry c in its directory, not yet made durable by an fsync of it.
function added(c) { if (indir(parent(c))) newent[c] = parent(c) }
BEGIN { bad = 0; writes = syncs = renames = 0 }
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
        if (indir(p) && p != dir) { dirty[p] = 1; written[p] = 1; writes++ }
    } else if (call == "copy_file_range") {
        split(args, a, ", ")
        p = fdpath(a[3])
        if (indir(p)) { dirty[p] = 1; writes++ }
    } else if (call ~ /^(fsync|fdatasync)$/) {
        p = fdpath(args)
        if (!indir(p))
            next
        syncs++
        for (c in newent)
            if (newent[c] == p)
                delete newent[c]
        if (p in dirty) dirty[p] = 0
    } else if (call ~ /^(openat|open|creat|mkdir|mkdirat)$/) {
        if (call ~ /^(open|openat)$/ && args !~ /O_CREAT/)
            next
        n = split(args, a, ", ")
        at = call ~ /at$/ ? fdpath(a[1]) : ""
        q = call ~ /at$/ ? a[2] : a[1]
        if (q !~ /^"/)
            next
        p = name_of(q, at)
        if (!indir(p))
            next
        added(p)
        delete gone[p]
        if (call !~ /^mkdir/)
            plain[p] = 1
    } else if (call ~ /^(unlink|unlinkat|rmdir)$/) {
        n = split(args, a, ", ")
        at = call == "unlinkat" ? fdpath(a[1]) : ""
        p = name_of(call == "unlinkat" ? a[2] : a[1], at)
        if (!indir(p))
            next
        delete dirty[p]
        delete newent[p]
        gone[p] = 1
    } else if (call ~ /^(rename|renameat|renameat2|link|linkat)$/) {
        n = split(args, a, ", ")
        if (call == "rename" || call == "link") { f = name_of(a[1], ""); t = name_of(a[2], "") }
        else { f = name_of(a[2], fdpath(a[1])); t = name_of(a[4], fdpath(a[3])) }
        if (!indir(t))
            next
        renames++
        if (call ~ /^rename/ && (f in written)) written[t] = 1
        if (commit != "" && base(t) !~ commit) {
            if (call ~ /^rename/ && (f in dirty)) { dirty[t] = dirty[f]; delete dirty[f] }
            if (call ~ /^rename/) gone[f] = 1
            if (f in newent) delete newent[f]
            delete gone[t]
            added(t)
            next
        }
        for (p in dirty)
            if (dirty[p] && p != f)
                blame(p, sprintf("%s gets its name while %s has unsynced writes", base(t), base(p)))
            else if (dirty[p])
                blame(t, sprintf("%s gets its name with unsynced writes", base(t)))
        for (c in newent)
            if (newent[c] != parent(t) && !((c in plain) && !(c in written)))
                blame(c, sprintf("%s gets its name while the new entry %s of directory %s is unsynced", base(t), base(c), newent[c]))
        if (call ~ /^rename/ && (f in dirty)) { dirty[t] = dirty[f]; delete dirty[f] }
        if (call ~ /^rename/)
            gone[f] = 1
        if (f in newent) delete newent[f]
        delete gone[t]
        added(t)
    }
}
END {
    for (i = 1; i <= nblamed; i++)
        if (!(blamed[i] in gone)) {
            printf "syncorder: %s\n", why[i]
            bad = 1
        }
    for (p in dirty)
        if (dirty[p]) {
            printf "syncorder: %s has unsynced writes at exit\n", base(p)
            bad = 1
        }
    for (c in newent)
        if (!(c in gone) && !((c in plain) && !(c in written))) {
            printf "syncorder: directory %s was not synced after its new entry %s\n", newent[c], base(c)
            bad = 1
        }
    if (!bad)
        printf "syncorder: %d writes, %d syncs, %d renames\n", writes, syncs, renames
    exit bad
}
