/* send.c: one delivery try -- an HTTP POST with libcurl (webhooks, signed
 * with HMAC-SHA256 when the group has a secret; Alertmanager v2), or a
 * command started with posix_spawn, the alert as JSON on stdin and in
 * CMON_ALERT_* variables, killed with its process group after its timeout. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alert/notify.h"
#include "alert/notify_internal.h"
#include "core/clock.h"

extern char **environ;

void notify_job_free(struct notify_job *job)
{
    if (!job)
        return;
    free(job->target);
    free(job->secret);
    free(job->body);
    cmon_notify_env_free(job->argv);
    cmon_notify_env_free(job->env);
    free(job->alert_key);
    free(job);
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

bool notify_send_http(const struct notify_job *job, long timeout_ms, char *err, size_t errlen)
{
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "curl_easy_init failed");
        return false;
    }
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    char sig[128], hdr[160];
    if (job->secret) {
        cmon_notify_signature(job->secret, job->body, strlen(job->body), sig, sizeof sig);
        snprintf(hdr, sizeof hdr, "%s: %s", CMON_NOTIFY_SIGNATURE_HEADER, sig);
        h = curl_slist_append(h, hdr);
    }
    curl_easy_setopt(c, CURLOPT_URL, job->target);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, job->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(job->body));
    curl_easy_setopt(c, CURLOPT_USERAGENT, "cmon/" CMON_VERSION);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s", curl_easy_strerror(rc));
        return false;
    }
    if (status < 200 || status > 299) {
        snprintf(err, errlen, "HTTP status %ld", status);
        return false;
    }
    return true;
}

/* environ with the job's variables replacing any of the same name. */
static char **merged_env(char **extra)
{
    size_t n_env = 0, n_extra = 0;
    while (environ[n_env])
        n_env++;
    while (extra[n_extra])
        n_extra++;
    char **env = calloc(n_env + n_extra + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < n_env; i++) {
        if (strncmp(environ[i], "CMON_ALERT_", 11) != 0)
            env[n++] = environ[i];
    }
    for (size_t i = 0; i < n_extra; i++)
        env[n++] = extra[i];
    return env;
}

static int spawn_child(const struct notify_job *job, int stdin_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none;
    sigemptyset(&none);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, stdin_fd, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_init(&attr);
    /* its own process group, so the timeout kills what it started too */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    char **env = merged_env(job->env);
    int rc = env ? posix_spawnp(pid, job->argv[0], &fa, &attr, job->argv, env) : ENOMEM;
    free(env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

/* Hand the body to the child's stdin without ever blocking or SIGPIPE. */
static void feed_stdin(int fd, const char *body)
{
    fcntl(fd, F_SETFL, O_NONBLOCK);
    size_t len = strlen(body), off = 0;
    while (off < len) {
        ssize_t w = send(fd, body + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the child does not read all of it: its choice */
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    close(fd);
}

bool notify_send_exec(const struct notify_job *job, char *err, size_t errlen)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        return false;
    }
    pid_t pid;
    int rc = spawn_child(job, sv[1], &pid);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        snprintf(err, errlen, "cannot run %s: %s", job->argv[0], strerror(rc));
        return false;
    }
    feed_stdin(sv[0], job->body);
    int64_t deadline = cmon_mono_ns() + (int64_t)job->timeout_sec * CMON_NS_PER_SEC;
    int status = 0;
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && cmon_mono_ns() < deadline)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    if (w == 0) {
        kill(-pid, SIGKILL);
        waitpid(pid, &status, 0);
        snprintf(err, errlen, "%s killed after %d s", job->argv[0], job->timeout_sec);
        return false;
    }
    if (w < 0) {
        snprintf(err, errlen, "waitpid: %s", strerror(errno));
        return false;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return true;
    if (WIFEXITED(status))
        snprintf(err, errlen, "%s exited with status %d", job->argv[0], WEXITSTATUS(status));
    else
        snprintf(err, errlen, "%s killed by signal %d", job->argv[0], WTERMSIG(status));
    return false;
}
