#!/usr/bin/env bash
# test_readme_tour.sh: README.md's "A five-minute tour" runs as written, so it
# cannot drift from the product.  Its fenced blocks are taken from the README
# in order:
#   ```sh       each line runs and must succeed;
#   ```console  "$ CMD" lines run and their output must be exactly the lines
#               shown under them;
#   ```json     is saved under the file name its paragraph names (`x.json`).
# This machine is a namespace "here" (loopback and a veth), the README's
# "other machine" a namespace "other" (only that veth); no default route in
# either.  `make run` starts what it starts (build/cmon run [--listen ADDR]
# docs/examples/local.json) in the background, as the reader's other terminal
# does; "stop make run and start it again" is what a new `make run` line does.
# In the other machine's block SERVER and KEY are the README's placeholders:
# this machine's address and the key the tour printed.
set -euo pipefail
CMON=${CMON:?set CMON to the cmon binary}
SRC=${CMON_SOURCE_DIR:?}
NS_PREFIX=rt
. "$SRC/tests/integration/lib/netns.sh"
ns_require
command -v curl >/dev/null && command -v jq >/dev/null && command -v python3 >/dev/null ||
    skip "curl, jq and python3 are needed"
ns_add here
ns_add other
ns_link other here 1 # other 198.18.1.1, here 198.18.1.2 (SERVER)

# The reader's checkout: build/cmon and docs/ as in the repository, and
# `cmon` on the other machine's PATH.
work=$NS_TMP/work
mkdir -p "$work/build" "$NS_TMP/other" "$NS_TMP/bin"
ln -s "$CMON" "$work/build/cmon"
ln -s "$CMON" "$NS_TMP/bin/cmon"
ln -s "$SRC/docs" "$work/docs"

run_pid=
make_run() { # the Makefile's run target: [LISTEN=ADDR]
    local listen=
    case "${1:-}" in LISTEN=*) listen=${1#LISTEN=} ;; esac
    if [ -n "$run_pid" ]; then kill "$run_pid"; wait "$run_pid" 2>/dev/null || true; fi
    (cd "$work" && exec ip netns exec "$(ns here)" ./build/cmon run ${listen:+--listen "$listen"} \
        docs/examples/local.json) >>"$NS_TMP/run.log" 2>&1 &
    run_pid=$!
    for _ in $(seq 150); do
        ns_in here curl -s -o /dev/null http://127.0.0.1:8080/healthz && return 0
        kill -0 "$run_pid" 2>/dev/null || break
        sleep 0.2
    done
    fail "make run${1:+ $1} did not start: $(tail -5 "$NS_TMP/run.log")"
}
agent_pid=
cleanup_tour() {
    local p
    for p in $agent_pid $run_pid; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    ns_cleanup
}
trap cleanup_tour EXIT

key=
here_sh() { # one line of a sh block, on this machine
    local out
    out=$(cd "$work" && ns_in here bash -c "$1" 2>&1) || fail "README line failed: $1
$out"
    if [[ "$1" == *"token create --role agent"* ]]; then key=$(tail -1 <<<"$out"); fi
}
other_sh() { # one line of the other machine's block
    local line=${1//SERVER/198.18.1.2}
    line=${line//KEY/$key}
    [ -n "$key" ] || fail "the tour reached the other machine before printing a key"
    [[ "$line" == "cmon agent "* ]] || fail "unexpected line on the other machine: $1"
    (cd "$NS_TMP/other" && PATH=$NS_TMP/bin:$PATH exec ip netns exec "$(ns other)" bash -c "exec $line") \
        >"$NS_TMP/agent.log" 2>&1 &
    agent_pid=$!
    local tok state=
    tok=$(cat "$work/cmon-data/admin.token")
    for _ in $(seq 150); do
        state=$(ns_in here curl -s -H "Authorization: Bearer $tok" http://127.0.0.1:8080/api/v1/agents |
            jq -r '.items[] | select(.name == "office-agent") | .state' 2>/dev/null || true)
        [ "$state" = running ] && return 0
        sleep 0.2
    done
    fail "the other machine's agent did not register: $(tail -5 "$NS_TMP/agent.log")"
}

# The tour's blocks, in order: "LANG\tPARAGRAPH-BEFORE\tBODY" (tabs and
# newlines escaped as \t \n), one per line.
python3 - "$SRC/README.md" >"$NS_TMP/blocks" <<'PY'
import sys
text = open(sys.argv[1]).read()
tour = text[text.index("## A five-minute tour"):text.index("## Status")]
esc = lambda s: s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
para, lang, body = "", None, []
for line in tour.split("\n"):
    if lang is None and line.startswith("```") and len(line) > 3:
        lang, body = line[3:].strip(), []
    elif lang is not None and line.startswith("```"):
        print(f"{lang}\t{esc(para.strip())}\t{esc(chr(10).join(body))}")
        para, lang = "", None
    elif lang is not None:
        body.append(line)
    else:
        para += line + " "
PY
[ "$(wc -l <"$NS_TMP/blocks")" -ge 6 ] || fail "the tour has too few blocks: $(cut -f1 "$NS_TMP/blocks" | tr '\n' ' ')"

make_run # the tour starts with `make run` running
n=0
while IFS=$'\t' read -r lang para body; do
    n=$((n + 1))
    para=$(printf '%b' "$para")
    body=$(printf '%b' "$body")
    case "$lang" in
    json)
        file=$(grep -o '`[A-Za-z0-9_.-]*\.json`' <<<"$para" | tail -1 | tr -d '`')
        [ -n "$file" ] || fail "block $n: a JSON block whose paragraph names no file"
        printf '%s\n' "$body" >"$work/$file"
        ;;
    sh)
        while IFS= read -r line; do
            line=${line%%  #*} # a trailing comment
            line=${line%"${line##*[![:space:]]}"}
            [ -z "$line" ] && continue
            if [[ "$line" == "make run"* ]]; then
                make_run ${line#make run}
            elif [[ "$para" == "On the other machine"* ]]; then
                other_sh "$line"
            else
                here_sh "$line"
            fi
        done <<<"$body"
        ;;
    console)
        cmd= want=
        flush() {
            [ -n "$cmd" ] || return 0
            local got
            got=$(cd "$work" && ns_in here bash -c "$cmd" 2>&1) || true
            [ "$got" = "$want" ] || fail "block $n: \$ $cmd
--- the README shows:
$want
--- it prints:
$got"
        }
        while IFS= read -r line; do
            if [[ "$line" == '$ '* ]]; then
                flush
                cmd=${line#\$ } want=
            else
                want+=${want:+$'\n'}$line
            fi
        done <<<"$body"
        flush
        ;;
    *) fail "block $n: a '$lang' block the tour test does not know how to run" ;;
    esac
    echo "ok: README tour block $n ($lang)"
done <"$NS_TMP/blocks"
echo "PASS: README tour, $n blocks, as written"
