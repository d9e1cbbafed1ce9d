#!/bin/bash
# The man pages (man/*.scd, built with scdoc): every option a command's
# --help shows is in its man page, the pages render without warnings, and
# vmkit.cfg(5) lists the parser's keys.
. "$(dirname "$0")/lib.sh"
need make scdoc mandoc groff || { finish; exit; }
B=${VMKIT%/vmkit}; B=${B#"$TOP"/}
ok "make man" make -s -C "$TOP" BUILD="$B" man
M=$TOP/$B/man

# No warnings from groff -ww nor mandoc -T lint (man/tidy.awk drops the
# empty paragraphs scdoc emits).
for p in vmkit.1 vmkit-img.1 vmkit-part.1 vmkit-fs.1 vmkit-vm.1 vmkit-guest.1 vmkit-backup.1 vmkit-tls.1 vmkit.cfg.5; do
    none "groff -ww clean: $p" groff -ww -z -man "$M/$p"
    none "mandoc -T lint -W warning clean: $p" mandoc -T lint -W warning "$M/$p"
done

# The options of each --help, in the man page of its group.
opts() { grep -oE '(^|[][ |,(])--?[A-Za-z][A-Za-z0-9-]*' | sed 's/^[][ |,(]*//' | sort -u; }
check_page() {  # page, then the commands whose --help it documents
    page=$1; shift
    text=$(mandoc -T ascii -O width=1000 "$M/$page" | col -b)
    all=""
    for c in "$@"; do
        # shellcheck disable=SC2086
        h=$("$VMKIT" $c --help 2>&1) || true
        [ -n "$h" ] || { _report 1 "vmkit $c --help prints something"; continue; }
        all="$all $(opts <<<"$h" | tr '\n' ' ')"
    done
    missing=""
    for o in $(tr ' ' '\n' <<<"$all" | sort -u); do
        grep -qE -- "(^|[^A-Za-z0-9-])$o([^A-Za-z0-9-]|\$)" <<<"$text" || missing="$missing $o"
    done
    eq "$page documents every option of its --help ($(wc -w <<<"$all") seen)" "${missing:-none}" "none"
}
verbs() { "$VMKIT" "$1" --help | awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { print g " " $1 }' g="$1"; }
mapfile -t IMG < <(verbs img); mapfile -t PART < <(verbs part); mapfile -t FS < <(verbs fs)
mapfile -t GUEST < <(verbs guest); mapfile -t BACKUP < <(verbs backup)
mapfile -t TLS < <(verbs tls)
eq "img has its verbs" "${#IMG[@]}" "10"
check_page vmkit-img.1 img "${IMG[@]}"
check_page vmkit-part.1 part "${PART[@]}"
check_page vmkit-fs.1 fs "${FS[@]}"
check_page vmkit-guest.1 guest "${GUEST[@]}"
check_page vmkit-backup.1 backup "${BACKUP[@]}"
check_page vmkit-tls.1 tls "${TLS[@]}"
check_page vmkit-vm.1 create define undefine start list console shutdown reboot destroy pause unpause config dumpxml export-ova import-ova edit save restore clone snapshot top \
    block-attach block-detach block-list network-attach network-detach network-list mem-set vcpu-set
check_page vmkit.1 "" demo doctor serve
# The top-level options are in the usage line of vmkit --help.
run_ok top "$VMKIT" --help
has "vmkit(1) and --help agree on --version" "$top" "--version"

# Every command of vmkit --help has its place in vmkit(1).
text=$(mandoc -T ascii "$M/vmkit.1" | col -b)
for c in $("$VMKIT" --help | awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { print $1 }'); do
    has "vmkit(1) names the command $c" "$text" "$c"
done

# vmkit.cfg(5): the keys, as the parser classifies them.
cfg=$(mandoc -T ascii "$M/vmkit.cfg.5" | col -b)
has "vmkit.cfg(5): honoured keys" "$cfg" "HONOURED KEYS"
has "vmkit.cfg(5): memory honoured" "$(sed -n '/HONOURED KEYS/,/IGNORED KEYS/p' <<<"$cfg")" "memory"
has "vmkit.cfg(5): a refused key in its list" "$(sed -n '/REFUSED KEYS/,$p' <<<"$cfg")" "pci"
run_ok keys "$TOP/$B/man/cfgkeys"
eq "vmkit.cfg(5) has one entry per parser key" "$(grep -c '^\*' <<<"$keys")" "$(grep -cE '^\*[^*]+\*$' "$M/vmkit.cfg.5.scd")"
finish
