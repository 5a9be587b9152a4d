#!/usr/bin/env bash
# test_docs.sh: docs/cmon.1 is generated from the binary's --help texts; fail
# when it is stale (run scripts/gen-man.sh build/cmon docs/cmon.1), and check
# that every command the binary knows is in the README's or the manual's words.
set -u
: "${CMON:?}" "${CMON_SOURCE_DIR:?}"
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
bash "$CMON_SOURCE_DIR/scripts/gen-man.sh" "$CMON" "$tmp"
if ! diff -u "$CMON_SOURCE_DIR/docs/cmon.1" "$tmp"; then
    echo "FAIL: docs/cmon.1 is stale: run scripts/gen-man.sh build/cmon docs/cmon.1" >&2
    exit 1
fi
for c in $("$CMON" --help | awk '/^Commands:/ {on=1; next} on && /^  [a-z]/ {print $1} on && /^$/ {exit}'); do
    "$CMON" help "$c" >/dev/null || { echo "FAIL: cmon help $c" >&2; exit 1; }
    "$CMON" "$c" --help >/dev/null 2>&1 || [ "$c" = help ] || { echo "FAIL: cmon $c --help" >&2; exit 1; }
done
grep -q 'make run' "$CMON_SOURCE_DIR/README.md" && grep -q 'make test' "$CMON_SOURCE_DIR/README.md" \
    || { echo "FAIL: README lacks the two commands" >&2; exit 1; }
echo "test_docs: manual current, every command has --help"
