# Shared by bench/convert.sh and bench/vmdk.sh (source it).
# best OUT CMD...: the faster of two runs of CMD, in seconds; OUT is
# removed before each run (so both tools write a fresh file).
best() {
    out=$1; shift
    b=
    for _ in 1 2; do
        rm -f "$out"
        s=$(date +%s.%N)
        "$@" >/dev/null 2>&1 || { echo "FAILED: $*" >&2; echo 999; return; }
        e=$(date +%s.%N)
        t=$(echo "$e - $s" | bc)
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi
    done
    echo "$b"
}
# ratio A B: A / B to two decimals (vmkit's time over the reference's).
ratio() { echo "scale=2; $1 / $2" | bc; }
