#!/usr/bin/env bash
# check-layers.sh: each module of src/ includes only the modules below it
# (docs/architecture.md, "Modules").  The server (and what it builds on:
# store, alert, model, core) never includes probe/ or agent/: cli/ wires the
# agent runtime to the server.  Prints each include that breaks the table and
# exits 1; run by ctest as unit/layers.
set -u
src="${1:-$(dirname "$0")/../src}"
declare -A allowed=(
    [core]="core"
    [model]="core model"
    [store]="core model store"
    [alert]="core model alert"
    [server]="core model store alert server"
    [probe]="core model probe"
    [agent]="core model probe agent"
    [exporter]="core model probe exporter"
)
bad=0
for mod in "${!allowed[@]}"; do
    while IFS=: read -r file _ inc; do
        dep="${inc#*\"}"
        dep="${dep%%/*}"
        case " ${allowed[$mod]} " in
        *" $dep "*) ;;
        *)
            echo "layers: $file includes $dep/ (allowed for $mod/: ${allowed[$mod]})"
            bad=1
            ;;
        esac
    done < <(grep -rnE '^#include "[a-z_]+/' "$src/$mod" || true)
done
[ "$bad" = 0 ] && echo "layers: ok (${#allowed[@]} modules)"
exit "$bad"
