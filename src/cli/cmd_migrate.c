/* cmd_migrate.c: `cmon migrate --from sqlite:PATH --to postgres://...` --
 * move a single-node installation onto PostgreSQL (where several server
 * replicas can share it).  Copies every table in one transaction; the target
 * must be empty.  Stop the single server first, or results it stores after
 * the copy's snapshot stay behind. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "store/copy.h"

static void print_progress(void *arg, const char *table, int64_t rows)
{
    (void)arg;
    printf("%-15s %lld rows\n", table, (long long)rows);
}

static int migrate_run(const struct cli_command *self, int argc, char **argv)
{
    static const struct option longopts[] = {{"from", required_argument, NULL, 'f'},
                                             {"to", required_argument, NULL, 't'},
                                             {"help", no_argument, NULL, 'h'},
                                             {0}};
    const char *from = NULL, *to = NULL;
    int c, rc;
    while ((c = cli_getopt(self, argc, argv, "hf:t:", longopts, &rc)) != -1) {
        switch (c) {
        case -2:
            return rc;
        case 'f':
            from = optarg;
            break;
        case 't':
            to = optarg;
            break;
        }
    }
    if (optind < argc)
        return cli_usage_error(self, "unexpected argument '%s'", argv[optind]);
    if (!from || !to)
        return cli_usage_error(self, "both --from sqlite:PATH and --to postgres://... are needed");
    struct cmon_errbuf eb;
    enum cmon_err err = store_copy_sqlite_to_postgres(from, to, print_progress, NULL, &eb);
    if (err == CMON_ERR_INVALID)
        return cli_usage_error(self, "%s", eb.msg);
    if (err) {
        fprintf(stderr, "cmon migrate: %s\n", eb.msg);
        return CLI_EXIT_FAILED;
    }
    fprintf(stderr, "cmon migrate: done; start the servers with --store and the same URL\n");
    return CLI_EXIT_OK;
}

const struct cli_command cmd_migrate = {
    .name = "migrate",
    .summary = "copy a single-node SQLite store into PostgreSQL (for replicas)",
    .usage = "usage: cmon migrate --from sqlite:PATH --to postgres://USER@HOST/DB\n"
             "\n"
             "Copy everything a single-node installation stored (monitors, tests and\n"
             "their states, raw results, roll-ups, state history, paths, agents, alert\n"
             "rules and events, tokens) into a PostgreSQL database, in one transaction.\n"
             "The target is migrated to the current schema first and must hold no cmon\n"
             "data.  Stop the server that writes the SQLite store before copying, then\n"
             "start one or more servers with --store postgres://...\n"
             "\n"
             "Options:\n"
             "  --from sqlite:PATH     the SQLite store (e.g. sqlite:./cmon-data/cmon.db)\n"
             "  --to URL               a libpq connection URI: postgres://user@host/db,\n"
             "                         postgresql://user@/db?host=/run/postgresql\n"
             "\n"
             "Prints each table with the number of rows copied.\n"
             "\n"
             "Exit status: 0 copied, 1 the copy failed (nothing is left in the target),\n"
             "2 usage error.\n",
    .run = migrate_run,
};
