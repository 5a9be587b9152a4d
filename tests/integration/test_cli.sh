#!/usr/bin/env bash
# test_cli.sh: the cmon binary's contract -- help, version, exit codes, usage
# errors that name the problem, and `cmon validate` output for people and JSON.
set -u
: "${CMON:?set CMON to the cmon binary}"
: "${CMON_SOURCE_DIR:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
ex="$CMON_SOURCE_DIR/docs/examples"
inv="$CMON_SOURCE_DIR/tests/data/monitors/invalid"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# run CMD...: sets rc, out, err
run() { "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; out=$(cat "$tmp/out"); err=$(cat "$tmp/err"); }

run "$CMON" --help
[ $rc -eq 0 ] || fail "--help exit $rc"
grep -q '^usage: cmon COMMAND' <<<"$out" || fail "--help has no usage line"
grep -q '  validate ' <<<"$out" || fail "--help does not list validate"
run "$CMON"
[ $rc -eq 2 ] || fail "no command: exit $rc, want 2"
run "$CMON" version
[ $rc -eq 0 ] && grep -Eq '^cmon [0-9]+\.[0-9]+\.[0-9]+$' <<<"$(head -1 "$tmp/out")" || fail "version: $out"
run "$CMON" --version
[ $rc -eq 0 ] || fail "--version exit $rc"
run "$CMON" help validate
[ $rc -eq 0 ] && grep -q '^usage: cmon validate' <<<"$out" || fail "help validate"
run "$CMON" validate --help
[ $rc -eq 0 ] && grep -q 'Exit status' <<<"$out" || fail "validate --help"
run "$CMON" valdiate x
[ $rc -eq 2 ] || fail "unknown command exit $rc"
[ "$(head -1 <<<"$err")" = "cmon: unknown command 'valdiate' (did you mean 'validate'?)" ] || fail "unknown command message: $err"
run "$CMON" validate --frobnicate x.json
[ $rc -eq 2 ] && [ "$(head -1 <<<"$err")" = "cmon validate: unknown option '--frobnicate'" ] || fail "unknown option: $rc $err"
run "$CMON" validate
[ $rc -eq 2 ] && grep -q 'no monitor file given' <<<"$err" || fail "validate without file: $rc $err"
run "$CMON" help nosuch
[ $rc -eq 2 ] || fail "help nosuch: exit $rc"

# validate: the seed example expands to 12 tests, in order
run "$CMON" validate "$ex/seed.json"
[ $rc -eq 0 ] || fail "seed.json invalid: $err"
[ "$(head -1 <<<"$out")" = "monitor seed: 12 tests" ] || fail "seed summary: $(head -1 <<<"$out")"
order=$(awk 'NR>2 {print $4"-"$5"-"$6}' <<<"$out" | tr '\n' ' ')
[ "$order" = "agent-a-web-http agent-a-web-tcp agent-a-db-http agent-a-db-tcp agent-b-web-http agent-b-web-tcp agent-b-db-http agent-b-db-tcp agent-c-web-http agent-c-web-tcp agent-c-db-http agent-c-db-tcp " ] || fail "order: $order"

run "$CMON" validate --json "$ex/seed.json" "$ex/tcp.json"
[ $rc -eq 0 ] || fail "validate --json exit $rc"
[ "$(jq -r '.valid' <<<"$out")" = true ] || fail "json valid"
[ "$(jq '.files[0].tests | length' <<<"$out")" = 12 ] || fail "json test count"
[ "$(jq -r '.files[0].tests[11] | "\(.number) \(.source) \(.destination) \(.testConfiguration) \(.protocol) \(.port)"' <<<"$out")" = "12 agent-c db tcp Tcp 5432" ] || fail "json last test"
[ "$(jq -r '.files[1].monitor' <<<"$out")" = db-tcp ] || fail "second file"

# invalid: exit 1, every problem on stderr as file:line:col: path: message
run "$CMON" validate "$inv/several_problems.json"
[ $rc -eq 1 ] || fail "invalid file exit $rc"
[ "$(grep -c 'several_problems.json:[0-9]*:[0-9]*: ' <<<"$err")" = 3 ] || fail "want 3 problems: $err"
grep -qx ".*several_problems.json:32:19: testConfigurations\[1\].tcpConfiguration.port: must be between 1 and 65535, got 65536" <<<"$err" || fail "port problem text: $err"
run "$CMON" validate --json "$inv/group_unknown_destination.json"
[ $rc -eq 1 ] || fail "json invalid exit $rc"
[ "$(jq -r '.files[0].problems[0] | "\(.line):\(.col) \(.path)"' <<<"$out")" = "44:11 testGroups[0].destinations[1]" ] || fail "json problem: $out"
# a valid file next to an invalid one: still exit 1, the valid one still listed
run "$CMON" validate "$ex/tcp.json" "$inv/status_6xx.json"
[ $rc -eq 1 ] && grep -q 'monitor db-tcp: 2 tests' <<<"$out" || fail "mixed files: $rc"
run "$CMON" validate /nonexistent/x.json
[ $rc -eq 1 ] && grep -q '/nonexistent/x.json: cannot open: No such file or directory' <<<"$err" || fail "missing file: $err"
# stdin; the name then must come from the file
run bash -c "\"$CMON\" validate - < \"$ex/icmp.json\""
[ $rc -eq 0 ] && grep -q 'monitor gateway-icmp: 2 tests' <<<"$out" || fail "stdin: $rc $out $err"
# the file name names a monitor without "name"
cp "$CMON_SOURCE_DIR/tests/data/monitors/valid/bare.json" "$tmp/edge-ping.json"
run "$CMON" validate "$tmp/edge-ping.json"
[ $rc -eq 0 ] && grep -q 'monitor edge-ping: 1 test' <<<"$out" || fail "name from file: $out $err"
# tables size their columns to their content: a long name keeps every row
# aligned (the TARGET column starts at one offset in every line)
cat >"$tmp/long.json" <<'JSON'
{"name": "long", "properties": {
  "endpoints": [{"name": "a-source-endpoint-with-a-rather-long-name", "type": "Agent", "address": "a"},
                {"name": "db", "address": "198.18.2.2"}],
  "testConfigurations": [{"name": "tcp", "protocol": "Tcp", "tcpConfiguration": {"port": 5432}},
                         {"name": "a-configuration-name-longer-than-its-column", "protocol": "Icmp"}],
  "testGroups": [{"name": "g", "sources": ["a-source-endpoint-with-a-rather-long-name"],
                  "destinations": ["db"],
                  "testConfigurations": ["tcp", "a-configuration-name-longer-than-its-column"]}]}}
JSON
run "$CMON" validate "$tmp/long.json"
[ $rc -eq 0 ] || fail "long.json: $err"
offsets=$(tail -n +2 <<<"$out" | awk '{ print index($0, $NF) }' | sort -u)
[ "$(wc -l <<<"$offsets")" = 1 ] || fail "the table is out of line with a long name: $out"
echo "test_cli: all checks passed"
