/* main.c: `cmon COMMAND ...` -- dispatch through the command table. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct cli_command *const commands[] = {
    &cmd_check,

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

/* Levenshtein distance for "did you mean" on unknown commands. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];
    if (la >= 63 || lb >= 63)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(size_t) * (lb + 1));
    }
    return prev[lb];
}

static int unknown_command(const char *name)
{
    fprintf(stderr, "cmon: unknown command '%s'", name);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (edit_distance(name, commands[i]->name) <= 2) {
            fprintf(stderr, " (did you mean '%s'?)", commands[i]->name);
            break;
        }
    }
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
        if (argc < 3) {
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
