/* agent_state.c: what the agent keeps between runs -- its name and per-agent
 * token in STATE_DIR/agent.json (mode 0600, written to a temporary file,
 * fsync'd and renamed, so a crash leaves the old or the new file, never a
 * torn one) -- and the host addresses it reports to the server. */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent_internal.h"

static void state_path(const char *dir, const char *file, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", dir, file);
}

enum cmon_err agent_state_load(const char *dir, struct agent_saved *st, struct cmon_errbuf *eb)
{
    char path[4200];
    state_path(dir, "agent.json", path, sizeof path);
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    if (!j) {
        if (access(path, F_OK) != 0)
            return cmon_fail(eb, CMON_ERR_NOTFOUND, "no saved token in %s", dir);
        return cmon_fail(eb, CMON_ERR_PARSE, "%s: %s", path, jerr.text);
    }
    const char *name = json_string_value(json_object_get(j, "name"));
    const char *token = json_string_value(json_object_get(j, "token"));
    enum cmon_err err = CMON_OK;
    if (!name || !token || strlen(name) >= sizeof st->name || strlen(token) >= sizeof st->token)
        err = cmon_fail(eb, CMON_ERR_PARSE, "%s: expected {\"name\", \"token\"}", path);
    else {
        snprintf(st->name, sizeof st->name, "%s", name);
        snprintf(st->token, sizeof st->token, "%s", token);
    }
    json_decref(j);
    return err;
}

enum cmon_err agent_state_save(const char *dir, const struct agent_saved *st,
                               struct cmon_errbuf *eb)
{
    char path[4200], tmp[4210];
    state_path(dir, "agent.json", path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    json_t *j = json_pack("{s:s, s:s}", "name", st->name, "token", st->token);
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (!text)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t len = strlen(text);
    bool ok = fd >= 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    int saved_errno = errno;
    free(text);
    if (fd >= 0)
        close(fd);
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            saved_errno = errno;
        unlink(tmp);
        return cmon_fail(eb, CMON_ERR_IO, "cannot save %s: %s", path, strerror(saved_errno));
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return CMON_OK;
}

void agent_state_forget(const char *dir)
{
    char path[4200];
    state_path(dir, "agent.json", path, sizeof path);
    unlink(path);
}

json_t *agent_host_addresses(void)
{
    json_t *arr = json_array();
    struct ifaddrs *ifa = NULL;
    if (getifaddrs(&ifa) != 0)
        return arr;
    for (struct ifaddrs *i = ifa; i && json_array_size(arr) < 32; i = i->ifa_next) {
        if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK))
            continue;
        char buf[INET6_ADDRSTRLEN] = "";
        if (i->ifa_addr->sa_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf, sizeof buf);
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            const struct in6_addr *a6 = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
            if (IN6_IS_ADDR_LINKLOCAL(a6))
                continue;
            inet_ntop(AF_INET6, a6, buf, sizeof buf);
        }
        if (buf[0])
            json_array_append_new(arr, json_string(buf));
    }
    freeifaddrs(ifa);
    return arr;
}

json_t *agent_addresses(const char *primary)
{
    json_t *host = agent_host_addresses();
    if (!primary || !*primary)
        return host;
    json_t *arr = json_array();
    json_array_append_new(arr, json_string(primary));
    size_t i;
    json_t *a;
    json_array_foreach(host, i, a) {
        if (strcmp(json_string_value(a), primary) != 0)
            json_array_append(arr, a);
    }
    json_decref(host);
    return arr;
}
