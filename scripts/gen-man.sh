#!/usr/bin/env bash
# gen-man.sh CMON [OUT]: write the cmon(1) manual page from the binary's own
# --help texts, so the manual, `cmon help COMMAND` and the code cannot drift
# apart (tests/integration/test_docs.sh checks docs/cmon.1 is current).
set -euo pipefail
cmon=${1:?usage: gen-man.sh path/to/cmon [out]}
out=${2:-/dev/stdout}
esc() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
version=$("$cmon" version | head -1 | awk '{print $2}')
commands=$("$cmon" --help | awk '/^Commands:/ {on=1; next} on && /^  [a-z]/ {print $1} on && /^$/ {exit}' | grep -v '^help$')
{
    echo ".TH CMON 1 \"\" \"cmon $version\" \"User Commands\""
    echo ".SH NAME"
    echo "cmon \\- self-hosted network connection monitor"
    echo ".SH SYNOPSIS"
    echo ".B cmon"
    echo ".I COMMAND"
    echo "[OPTIONS] [ARGS]"
    echo ".SH DESCRIPTION"
    echo ".nf"
    "$cmon" --help | esc
    echo ".fi"
    echo ".SH COMMANDS"
    for c in $commands; do
        echo ".SS \"cmon $c\""
        echo ".nf"
        "$cmon" help "$c" | esc
        echo ".fi"
    done
    echo ".SH EXIT STATUS"
    echo "0 success, 1 the thing checked failed (invalid file, failing check), 2 usage error,"
    echo "3 cannot reach or authenticate to the server."
    echo ".SH FILES"
    echo "docs/monitor-file.md in the source tree describes the monitor file format."
} >"$out"
