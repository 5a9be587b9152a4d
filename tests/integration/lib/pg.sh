# pg.sh: a private PostgreSQL 15 cluster for one test run (source it).
# pg_start initdb's a cluster in a temp dir as an unprivileged user (the
# current user, or `postgres`/`nobody` when running as root), listening only
# on a unix socket inside that dir, and sets PG_URL (database "cmon", user
# "cmon", trust auth on the socket).  pg_stop tears it down; callers put it
# in their EXIT trap.  pg_start returns 77 (skip) with the reason on stderr
# when PostgreSQL is missing or cannot start.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

pg_run() { # run a PostgreSQL binary as the cluster's owner
    if [ -n "${PG_OWNER:-}" ]; then
        runuser -u "$PG_OWNER" -- "$@"
    else
        "$@"
    fi
}

pg_start() {
    if [ ! -x "$PG_BIN/initdb" ] || [ ! -x "$PG_BIN/pg_ctl" ]; then
        echo "SKIP: PostgreSQL 15 server binaries not found in $PG_BIN (apt-get install postgresql-15)" >&2
        return 77
    fi
    PG_OWNER=
    if [ "$(id -u)" -eq 0 ]; then
        PG_OWNER=postgres
        id "$PG_OWNER" >/dev/null 2>&1 || PG_OWNER=nobody
    fi
    PG_DIR=$(mktemp -d /tmp/cmon-pg-XXXXXX)
    chmod 755 "$PG_DIR"
    [ -n "$PG_OWNER" ] && chown "$PG_OWNER" "$PG_DIR"
    if ! pg_run "$PG_BIN/initdb" -D "$PG_DIR/data" -U cmon --auth=trust -E UTF8 \
        --locale=C --no-sync >"$PG_DIR/initdb.log" 2>&1; then
        echo "SKIP: initdb failed: $(tail -3 "$PG_DIR/initdb.log")" >&2
        return 77
    fi
    # fsync off by default: a test cluster is thrown away (benchmarks set
    # PG_FSYNC=on to measure durable commits); max_connections for replicas
    if ! pg_run "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-k $PG_DIR -c listen_addresses= -c fsync=${PG_FSYNC:-off} -c max_connections=200" \
        start >/dev/null 2>&1; then
        echo "SKIP: PostgreSQL did not start: $(tail -3 "$PG_DIR/server.log" 2>/dev/null)" >&2
        return 77
    fi
    if ! psql -X -q -h "$PG_DIR" -U cmon -d postgres -c "CREATE DATABASE cmon" >/dev/null; then
        echo "SKIP: cannot create a database in the test cluster" >&2
        return 77
    fi
    PG_URL="postgresql://cmon@/cmon?host=$PG_DIR"
    export PG_URL PG_DIR
}

# A further empty database in the same cluster; prints its URL.
pg_new_db() {
    psql -q -h "$PG_DIR" -U cmon -d postgres -c "CREATE DATABASE $1" >/dev/null
    echo "postgresql://cmon@/$1?host=$PG_DIR"
}

pg_psql() { psql -X -q -A -t -h "$PG_DIR" -U cmon -d cmon "$@"; }

pg_stop() {
    [ -n "${PG_DIR:-}" ] || return 0
    if [ -f "$PG_DIR/data/postmaster.pid" ]; then
        pg_run "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$PG_DIR"
    PG_DIR=
}
