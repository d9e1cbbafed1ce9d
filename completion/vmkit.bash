# bash completion for vmkit.  Commands, verbs and options are read from
# vmkit's own --help (so they never drift from the binary), VM names from
# `vmkit list --all`, partitions after "disk.img:" from `vmkit part list
# --json`, paths inside a filesystem after "disk.img:N:" from `vmkit fs ls`.

# The commands listed under "commands:" in `vmkit ARGS --help`.
_vmkit_commands() {
    "${_vmkit_bin:-vmkit}" "$@" --help 2>/dev/null |
        awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { print $1 }'
}

# The options (-x, --long) that `vmkit ARGS --help` shows.
_vmkit_options() {
    "${_vmkit_bin:-vmkit}" "$@" --help 2>&1 |
        grep -oE '(^|[][ |,(])--?[A-Za-z][A-Za-z0-9-]*' | sed 's/^[][ |,(]*//' | sort -u
}

# Running and defined VM names.
_vmkit_vms() {
    "${_vmkit_bin:-vmkit}" list --all 2>/dev/null | awk 'NR > 1 { print $1 }'
}

# Completions of a word naming a disk, a partition or a path inside it:
# IMG -> files; IMG: -> IMG:N for each partition; IMG:N:/dir/x -> entries.
_vmkit_targets() {
    local cur=$1 img rest n node
    img=${cur%%:*}
    if [[ $cur == *:* && -f $img ]]; then
        rest=${cur#*:}
        if [[ $rest != *:* && $rest != /* ]]; then
            "${_vmkit_bin:-vmkit}" part list --json "$img" 2>/dev/null |
                sed -n 's/^ *"node": *"\(.*\)",*$/\1/p' | while read -r node; do
                    n=${node#"$img"}
                    [[ $img:$n == "$cur"* ]] && printf '%s\n' "$img:$n" "$img:$n:"
                done
            return
        fi
        local base=${cur%/*}/
        [[ $rest == */* ]] || return
        "${_vmkit_bin:-vmkit}" fs ls -l "$base" 2>/dev/null | while read -r mode _ _ _ _ _ _ name; do
            [[ -z $name ]] && continue
            [[ $mode == d* ]] && name=$name/
            [[ $base$name == "$cur"* ]] && printf '%s\n' "$base$name"
        done
        return
    fi
    compgen -f -- "$cur"
}

_vmkit() {
    local _vmkit_bin=${COMP_WORDS[0]}
    # Take the current word from the line, not COMP_WORDS: ':' splits
    # words there, and "disk.img:2:/etc" must stay one.
    local line=${COMP_LINE:0:COMP_POINT} cur
    cur=${line##*[[:space:]]}
    local -a words
    read -r -a words <<<"${line%"$cur"}"
    local cmd=${words[1]:-} verb=${words[2]:-}
    COMPREPLY=()
    if (( ${#words[@]} <= 1 )); then
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "--help --version" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$(_vmkit_commands)" -- "$cur")
        fi
    else
        local group=""
        case $cmd in img|part|fs|guest|backup|tls) group=$cmd ;; esac
        if [[ -n $group && ${#words[@]} == 2 && $cur != -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$(_vmkit_commands "$group")" -- "$cur")
        elif [[ $cur == -* ]]; then
            if [[ -n $group ]]; then
                mapfile -t COMPREPLY < <(compgen -W "$(_vmkit_options "$group" "$verb")" -- "$cur")
            else
                mapfile -t COMPREPLY < <(compgen -W "$(_vmkit_options "$cmd")" -- "$cur")
            fi
        else
            case $cmd in
            start|console|shutdown|reboot|destroy|pause|unpause|config|dumpxml|export-ova|edit|undefine|list|save|migrate|snapshot|clone|\
        block-*|network-*|mem-set|vcpu-set)
                mapfile -t COMPREPLY < <(compgen -W "$(_vmkit_vms)" -- "$cur") ;;
            img|part|fs|guest)
                mapfile -t COMPREPLY < <(_vmkit_targets "$cur") ;;
            top)    # no operands; -s takes a sort key
                [[ ${words[${#words[@]}-1]} == -s || ${words[${#words[@]}-1]} == --sort ]] &&
                    mapfile -t COMPREPLY < <(compgen -W "id name state cpu time mem vcpus read write net" -- "$cur") ;;
            serve)  # no operands; --web takes a directory
                [[ ${words[${#words[@]}-1]} == --web ]] &&
                    mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
            *)
                mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
            esac
        fi
    fi
    # bash splits words at ':' (COMP_WORDBREAKS): offer only what follows
    # the last one, as bash-completion's __ltrim_colon_completions does.
    if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
        local pre=${cur%"${cur##*:}"} i
        for i in "${!COMPREPLY[@]}"; do COMPREPLY[i]=${COMPREPLY[i]#"$pre"}; done
    fi
    # Don't add a space after a partition or directory: more may follow.
    [[ ${#COMPREPLY[@]} -gt 0 && ${COMPREPLY[0]} == *[:/] ]] && compopt -o nospace 2>/dev/null
    return 0
}
complete -o filenames -F _vmkit vmkit
