# bash completion for famcontactctl(1)                     -*- shell-script -*-
#
# famcontactctl itself says what may come next ("famcontactctl complete",
# see famcontactctl(1), "Shell completion"): commands, subcommands and
# options from the tables that run them, so that this file cannot drift
# from the program; reference codes and caseworker addresses from the
# database (read-only; never a family's name). Installed as
# /usr/share/bash-completion/completions/famcontactctl. In zsh:
#     autoload -U +X bashcompinit && bashcompinit
#     source /usr/share/bash-completion/completions/famcontactctl

_famcontactctl()
{
    # COMP_WORDS as bash split them: "--format=csv" is three words,
    # "--format" "=" "csv", and famcontactctl answers for "csv" alone.
    local cur=${COMP_WORDS[COMP_CWORD]} cword=$COMP_CWORD out
    local -a words=("${COMP_WORDS[@]}")
    [[ $cur == "=" ]] && cur=
    out=$("${words[0]}" complete "$cword" "${words[@]}" 2>/dev/null \
        </dev/null) || out=
    if [[ $out == ":file" ]]; then
        compopt -o filenames 2>/dev/null
        local IFS=$'\n'
        COMPREPLY=($(compgen -f -- "$cur"))
        return 0
    fi
    local IFS=$'\n'
    COMPREPLY=($out)
    return 0
}
complete -F _famcontactctl famcontactctl
