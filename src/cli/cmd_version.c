/* cmd_version.c: `cmon version` -- the version and the libraries linked. */
#include <ares.h>
#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/opensslv.h>
#include <sqlite3.h>
#include <stdio.h>
#include <uv.h>

#include "cli/cli.h"

static int version_run(const struct cli_command *self, int argc, char **argv)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {0}};
    int c, rc;
    while ((c = cli_getopt(self, argc, argv, "h", longopts, &rc)) != -1) {
        if (c == -2)
            return rc;
    }
    if (optind < argc)
        return cli_usage_error(self, "unexpected argument '%s'", argv[optind]);
    printf("cmon %s\n", CMON_VERSION);
    printf("libuv %s, libcurl %s, c-ares %s, libmicrohttpd %s, jansson %s, sqlite %s, %s\n",
           uv_version_string(), curl_version_info(CURLVERSION_NOW)->version, ares_version(NULL),
           MHD_get_version(), JANSSON_VERSION, sqlite3_libversion(), OPENSSL_VERSION_TEXT);
    return CLI_EXIT_OK;
}

const struct cli_command cmd_version = {
    .name = "version",
    .summary = "print the version of cmon and of the libraries it uses",
    .usage = "usage: cmon version\n"
             "\n"
             "Print cmon's version, then the versions of libuv, libcurl, c-ares,\n"
             "libmicrohttpd, jansson, SQLite and OpenSSL it runs with.\n",
    .run = version_run,
};
