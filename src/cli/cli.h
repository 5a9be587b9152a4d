/* cli.h: the subcommand table (tmux cmd_entry style).  Each subcommand lives in
 * its own cmd_NAME.c with its usage text next to its code, and exports one
 * const struct cli_command.  Exit codes (DESIGN section 1): 0 success, 1 the
 * thing checked failed, 2 usage error, 3 cannot reach/authenticate to server. */
#ifndef CMON_CLI_CLI_H
#define CMON_CLI_CLI_H

#include <stdio.h>

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILED = 1,
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_SERVER = 3,
};

struct cli_command {
    const char *name;
    const char *summary;  /* one line for `cmon --help` */
    const char *usage;    /* full text for `cmon help NAME` / `cmon NAME --help` */
    int (*run)(const struct cli_command *self, int argc, char **argv);
};

/* Print "cmon NAME: message\nTry 'cmon NAME --help'." to stderr; returns 2. */
int cli_usage_error(const struct cli_command *self, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Print the full usage to out. */
void cli_print_usage(const struct cli_command *self, FILE *out);

/* getopt_long with cmon's conventions: --help prints usage and makes the
 * caller exit 0; unknown options/missing arguments are usage errors.  Returns
 * the option character, -1 at the end, or -2 meaning "return *exit_code". */
struct option;
int cli_getopt(const struct cli_command *self, int argc, char **argv, const char *shortopts,
               const struct option *longopts, int *exit_code);

/* --address and --region of `cmon agent` and `cmon run`: an IPv4/IPv6
 * literal; a region of at most 63 printable characters.  0 and *out = arg,
 * or a usage error (2). */
int cli_agent_address(const struct cli_command *self, const char *arg, const char **out);
int cli_agent_region(const struct cli_command *self, const char *arg, const char **out);

extern const struct cli_command cmd_agent;
extern const struct cli_command cmd_alerts;
extern const struct cli_command cmd_check;
extern const struct cli_command cmd_exporter;
extern const struct cli_command cmd_migrate;
extern const struct cli_command cmd_monitor;
extern const struct cli_command cmd_run;
extern const struct cli_command cmd_server;
extern const struct cli_command cmd_tests;
extern const struct cli_command cmd_token;
extern const struct cli_command cmd_trace;
extern const struct cli_command cmd_validate;
extern const struct cli_command cmd_version;

#endif
