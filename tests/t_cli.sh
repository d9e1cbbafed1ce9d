#!/bin/bash
# The command line contract: help, version, exit statuses, error format.
. "$(dirname "$0")/lib.sh"

ok "vmkit --help" vmkit --help
ok "vmkit --version" vmkit --version
has "version names vmkit" "$(vmkit --version)" "vmkit "
fails "no command is a usage error" 2 vmkit
fails "unknown command is a usage error" 2 vmkit frobnicate
fails_with "error names the command" 2 "frobnicate" vmkit frobnicate

# Paths built from the environment that do not fit are errors, never a
# shorter path (which names another directory, and gets created).
L=$T$(printf '/deep%.0s' $(seq 1 900))
fails_with "long TMPDIR: guest build refuses" 1 "TMPDIR: $T/deep/deep" env TMPDIR="$L" "$VMKIT" guest build -q "$T/g.img"
fails_with "long XDG_CACHE_HOME: guest build refuses" 1 "path too long" env XDG_CACHE_HOME="$L" "$VMKIT" guest build -q "$T/g.img"
fails_with "long VMKIT_RUNTIME_DIR: list refuses" 1 "path too long" env VMKIT_RUNTIME_DIR="$L" "$VMKIT" list
mkdir "$T/c"; printf "name = 'x'\nmemory = 64\n" >"$T/c/x.cfg"
fails_with "long VMKIT_CONFIG_DIR: define refuses" 1 "path too long" env VMKIT_CONFIG_DIR="$L" "$VMKIT" define "$T/c/x.cfg"
eq "nothing made under the cut-off paths" "$(ls "$T")" "c"
finish
