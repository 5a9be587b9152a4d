/* main.c: `cmon COMMAND ...` -- dispatch through the command table. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/text.h"

static const struct cli_command *const commands[] = {
    &cmd_run,
    &cmd_server,
    &cmd_agent,
    &cmd_monitor,
    &cmd_tests,
    &cmd_alerts,
    &cmd_token,
    &cmd_migrate,
    &cmd_check,
    &cmd_trace,
    &cmd_exporter,
    &cmd_validate,
    &cmd_version,
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const char main_usage_head[] =
    "usage: cmon COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "cmon is a self-hosted network connection monitor: agents check HTTP, TCP and\n"
    "ICMP connectivity to destinations; a server stores the results, computes each\n"
    "test's state (Pass, Warning, Fail, Indeterminate, Not Running) and alerts.\n"
    "\n"
    "Commands:\n";
static const char main_usage_tail[] =
    "\n"
    "Run 'cmon help COMMAND' or 'cmon COMMAND --help' for a command's options.\n"
    "Exit codes: 0 success, 1 the thing checked failed, 2 usage error,\n"
    "3 cannot reach or authenticate to the server.\n";

static void print_main_usage(FILE *out)
{
    fputs(main_usage_head, out);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "  %-10s %s\n", "help", "show help for a command");
    fputs(main_usage_tail, out);
}

static const struct cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    }
    return NULL;
}

void cli_print_usage(const struct cli_command *self, FILE *out)
{
    fputs(self->usage, out);
}

int cli_usage_error(const struct cli_command *self, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "cmon %s: ", self->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'cmon %s --help'.\n", self->name);
    return CLI_EXIT_USAGE;
}

int cli_getopt(const struct cli_command *self, int argc, char **argv, const char *shortopts,
               const struct option *longopts, int *exit_code)
{
    int idx = 0;
    opterr = 0;
    int c = getopt_long(argc, argv, shortopts, longopts, &idx);
    if (c == 'h') {
        cli_print_usage(self, stdout);
        *exit_code = CLI_EXIT_OK;
        return -2;
    }
    if (c == '?' || c == ':') {
        const char *bad = argv[optind - 1];
        if (c == ':' || (optopt && strchr(shortopts, optopt)))
            *exit_code = cli_usage_error(self, "option '%s' needs a value", bad);
        else
            *exit_code = cli_usage_error(self, "unknown option '%s'", bad);
        return -2;
    }
    return c;
}

static int unknown_command(const char *name)
{
    fprintf(stderr, "cmon: unknown command '%s'", name);
    const char *names[N_COMMANDS];
    for (size_t i = 0; i < N_COMMANDS; i++)
        names[i] = commands[i]->name;
    const char *guess = cmon_suggest(name, names, N_COMMANDS);
    if (guess)
        fprintf(stderr, " (did you mean '%s'?)", guess);
    fprintf(stderr, "\nRun 'cmon --help' for the list of commands.\n");
    return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_main_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        print_main_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0)
        name = "version";
    if (strcmp(name, "help") == 0) {
        if (argc < 3 || strcmp(argv[2], "help") == 0) {
            print_main_usage(stdout);
            return CLI_EXIT_OK;
        }
        const struct cli_command *c = find_command(argv[2]);
        if (!c)
            return unknown_command(argv[2]);
        cli_print_usage(c, stdout);
        return CLI_EXIT_OK;
    }
    if (name[0] == '-') {
        fprintf(stderr, "cmon: unknown option '%s'\nRun 'cmon --help' for usage.\n", name);
        return CLI_EXIT_USAGE;
    }
    const struct cli_command *c = find_command(name);
    if (!c)
        return unknown_command(name);
    /* The subcommand sees argv[0] = its name, as getopt expects. */
    optind = 1;
    return c->run(c, argc - 1, argv + 1);
}
