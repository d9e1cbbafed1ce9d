#!/bin/bash
# Shell completion: bash (completion/vmkit.bash, driven as bash's
# programmable completion calls it) and zsh (completion/_vmkit, with
# compadd/compset/_files replaced by stubs that print what is offered).
. "$(dirname "$0")/lib.sh"
need zsh sfdisk debugfs || { finish; exit; }
cd "$T" || exit 1
export VMKIT_RUNTIME_DIR=$T/run VMKIT_CONFIG_DIR=$T/etc
ok "img create" vmkit img create d.img 64M
ok "part init" vmkit part init d.img gpt
ok "part add 1" vmkit part add d.img --size 20M
ok "part add 2" vmkit part add d.img --size 20M
ok "mkfs on 2" vmkit fs mkfs -t ext4 d.img:2
ok "mkdir /etc" vmkit fs mkdir d.img:2:/etc
ok_in "write /etc/hosts" "x\n" vmkit fs write d.img:2:/etc/hosts
printf "name = 'alpha'\nmemory = 64\n" >a.cfg; printf "name = 'beta'\nmemory = 64\n" >b.cfg
ok "define alpha" vmkit define a.cfg
ok "define beta" vmkit define b.cfg
run_ok nodes sfdisk -J d.img
has "sfdisk sees 2 partitions" "$nodes" '"node": "d.img2"'

cat >comp.bash <<EOS
. "$TOP/completion/vmkit.bash"
comp() {
    COMP_LINE=\$1; COMP_POINT=\${#1}; read -ra COMP_WORDS <<<"\$1"
    [[ \$1 == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=\$((\${#COMP_WORDS[@]} - 1)); COMP_WORDS[0]="$VMKIT"
    _vmkit; echo "\${COMPREPLY[*]}"
}
EOS
B() { bash -c ". ./comp.bash; $1"; }
run_ok c B 'complete -p vmkit'
eq "bash: complete -p names the function" "$c" "complete -o filenames -F _vmkit vmkit"
run_ok c B 'comp "vmkit "'
eq "bash: the commands, as vmkit --help lists them" "$c" "$("$VMKIT" --help | awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { printf "%s%s", s, $1; s = " " }')"
run_ok c B 'comp "vmkit img c"'
eq "bash: img verbs by prefix" "$c" "create check convert compare commit"
run_ok c B 'comp "vmkit backup "'
eq "bash: backup verbs" "$c" "init save list info verify restore export import ls cat get prune gc"
run_ok c B 'comp "vmkit tls "'
eq "bash: tls verbs" "$c" "init issue-client revoke list"
run_ok c B 'comp "vmkit tls issue-client --p"'
eq "bash: options of tls issue-client" "$c" "--p12 --password-file"
run_ok c B 'comp "vmkit backup verify --r"'
eq "bash: an option of backup verify" "$c" "--read-data"
run_ok c B 'comp "vmkit img create --pre"'
eq "bash: an option of img create" "$c" "--prealloc"
run_ok c B 'comp "vmkit part add d.img --s"'
eq "bash: options of part add" "$c" "--size --start"
run_ok c B 'comp "vmkit list -"'
eq "bash: options of list" "$c" "--all --help --json --long -a -h -l"
run_ok c B 'comp "vmkit top --"'
eq "bash: options of top" "$c" "--batch --delay --help --iterations --json --sort"
run_ok c B 'comp "vmkit top -s c"'
eq "bash: top's sort keys after -s" "$c" "cpu"
run_ok c B 'comp "vmkit start "'
eq "bash: defined VM names" "$c" "alpha beta"
run_ok c B 'comp "vmkit destroy a"'
eq "bash: VM names by prefix" "$c" "alpha"
run_ok c B 'comp "vmkit block-attach "'
eq "bash: VM names after a hot-plug verb" "$c" "alpha beta"
run_ok c B 'comp "vmkit block-attach --p"'
eq "bash: block-attach's --persist" "$c" "--persist"
run_ok c B 'comp "vmkit dumpxml b"'
eq "bash: dumpxml takes VM names" "$c" "beta"
run_ok c B 'comp "vmkit fs ls d."'
eq "bash: image paths" "$c" "d.img"
run_ok c B 'comp "vmkit fs ls d.img:"'
eq "bash: partition numbers after the colon (after bash's ':' split)" "$c" "1 1: 2 2:"
run_ok c B 'COMP_WORDBREAKS=" "; comp "vmkit fs ls d.img:"'
eq "bash: whole words when ':' does not split" "$c" "d.img:1 d.img:1: d.img:2 d.img:2:"
run_ok c B 'comp "vmkit img info d.img:2"'
eq "bash: a partition number by prefix" "$c" "2 2:"
run_ok c B 'comp "vmkit fs cat d.img:2:/"'
eq "bash: directories inside the filesystem" "$c" "/etc/ /lost+found/"
run_ok c B 'comp "vmkit fs cat d.img:2:/etc/h"'
eq "bash: files inside the filesystem" "$c" "/etc/hosts"
run_ok c B 'comp "vmkit fs cat nope.img:"'
none "bash: no partitions of a missing image" B 'c=$(comp "vmkit fs cat nope.img:"); [ -z "$c" ] || echo "$c"'

cat >comp.zsh <<EOS
compadd() {
    local arr=0
    while [[ \$1 == -* ]]; do case \$1 in -a) arr=1 ;; -S|-r|-P|-p|-s) shift ;; --) shift; break ;; esac; shift; done
    if (( arr )); then for a in "\$@"; do print -l -- \${(P)a}; done; else print -l -- "\$@"; fi
}
compset() { return 0; }
_files() { print FILES; }
comp() {
    words=(\${(z)1}); [[ \$1 == *" " ]] && words+=("")
    words[1]="$VMKIT"; CURRENT=\${#words}
    print -r -- \${(j: :)\${(f)"\$(source "$TOP/completion/_vmkit")"}}
}
EOS
Z() { zsh -c ". ./comp.zsh; $1"; }
ok "zsh -n: _vmkit parses" zsh -n "$TOP/completion/_vmkit"
run_ok c Z 'comp "vmkit "'
eq "zsh: the commands, as vmkit --help lists them" "$c" "$("$VMKIT" --help | awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { printf "%s%s", s, $1; s = " " }')"
run_ok c Z 'comp "vmkit part "'
eq "zsh: part verbs" "$c" "$("$VMKIT" part --help | awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { printf "%s%s", s, $1; s = " " }')"
run_ok c Z 'comp "vmkit backup "'
eq "zsh: backup verbs" "$c" "init save list info verify restore export import ls cat get prune gc"
run_ok c Z 'comp "vmkit tls "'
eq "zsh: tls verbs" "$c" "init issue-client revoke list"
run_ok c Z 'comp "vmkit list -"'
eq "zsh: options of list" "$c" "--all --help --json --long -a -h -l"
run_ok c Z 'comp "vmkit shutdown "'
eq "zsh: VM names" "$c" "alpha beta"
run_ok c Z 'comp "vmkit top --sort "'
eq "zsh: top's sort keys" "$c" "id name state cpu time mem vcpus read write net"
run_ok c Z 'comp "vmkit vcpu-set "'
eq "zsh: VM names after a hot-plug verb" "$c" "alpha beta"
run_ok c Z 'comp "vmkit fs ls d.img:"'
eq "zsh: partition numbers after the colon" "$c" "1 2"
run_ok c Z 'comp "vmkit fs cat d.img:2:/etc/"'
eq "zsh: files inside the filesystem" "$c" "hosts"
run_ok c Z 'comp "vmkit fs ls d"'
eq "zsh: image paths through _files" "$c" "FILES"
finish
