/* local_token.c: the admin token that keeps the local user in once a server
 * leaves open mode.  A `cmon run` starts open (loopback, no token); the first
 * token created -- typically the agents' workspace key -- makes the server
 * require one on every request, which used to lock out the CLI and the
 * dashboard on the same machine.  So whoever creates that first token in a
 * SQLite store (cmon token create, or the server's start with tokens and no
 * such file) also writes an admin token to STORE_DIR/admin.token, mode 0600,
 * readable only by the store's owner.  The CLI uses that file by itself for a
 * loopback server when no --token or CMON_TOKEN is given; it never sends it
 * to another host.  The dashboard asks for a token: paste this one.
 * Single-threaded (the CLI's main thread). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/client.h"
#include "core/clock.h"
#include "store/store.h"

#define LOCAL_TOKEN_FILE "admin.token"

bool cli_local_token_path(const char *store_url, char *out, size_t cap)
{
    if (strncmp(store_url, "sqlite:", 7) != 0)
        return false;
    char *copy = strdup(store_url + 7);
    if (!copy)
        return false;
    int n = snprintf(out, cap, "%s/%s", dirname(copy), LOCAL_TOKEN_FILE);
    free(copy);
    return n > 0 && (size_t)n < cap;
}

static enum cmon_err write_token_file(const char *path, const char *token, struct cmon_errbuf *eb)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST
                   ? CMON_OK
                   : cmon_fail(eb, CMON_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    char line[80];
    int len = snprintf(line, sizeof line, "%s\n", token);
    bool ok = write(fd, line, (size_t)len) == len && fsync(fd) == 0;
    close(fd);
    if (!ok) {
        unlink(path);
        return cmon_fail(eb, CMON_ERR_IO, "cannot write %s", path);
    }
    return CMON_OK;
}

enum cmon_err cli_local_token_keep(const char *store_url, const char *token, char *path, size_t cap,
                                   bool *created, struct cmon_errbuf *eb)
{
    *created = false;
    struct stat st;
    if (!cli_local_token_path(store_url, path, cap) || stat(path, &st) == 0)
        return CMON_OK;
    enum cmon_err err = write_token_file(path, token, eb);
    *created = !err;
    return err;
}

enum cmon_err cli_local_token_ensure(struct store *s, const char *store_url, char *path, size_t cap,
                                     bool *created, struct cmon_errbuf *eb)
{
    *created = false;
    struct stat st;
    if (!cli_local_token_path(store_url, path, cap) || stat(path, &st) == 0)
        return CMON_OK;
    char token[64], hash[65];
    enum cmon_err err = store_token_new(token, eb);
    if (!err) {
        store_token_hash(token, hash);
        err = s->ops->token_add(s, hash, STORE_ROLE_ADMIN, "local-admin", cmon_wall_ns(), eb);
    }
    return err ? err : cli_local_token_keep(store_url, token, path, cap, created, eb);
}

/* Only for a server on this machine: the file is a local admin credential. */
static bool loopback_url(const char *url)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    return strncmp(h, "127.", 4) == 0 || strncmp(h, "localhost", 9) == 0 ||
           strncmp(h, "[::1]", 5) == 0;
}

const char *cli_local_token(const char *server_url, char *buf, size_t cap)
{
    if (!loopback_url(server_url))
        return NULL;
    const char *data = getenv("CMON_DATA");
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", data && *data ? data : "./cmon-data", LOCAL_TOKEN_FILE);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    bool ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    buf[ok ? strcspn(buf, "\r\n") : 0] = '\0';
    return buf[0] ? buf : NULL;
}
