#!/bin/bash
# The command line contract: help, version, exit statuses, error format.
. "$(dirname "$0")/lib.sh"

ok "vmkit --help" vmkit --help
ok "vmkit --version" vmkit --version
has "version names vmkit" "$(vmkit --version)" "vmkit "
fails "no command is a usage error" 2 vmkit
fails "unknown command is a usage error" 2 vmkit frobnicate
fails_with "error names the command" 2 "frobnicate" vmkit frobnicate
finish
