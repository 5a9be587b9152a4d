/* monitor_doc.c: a monitor file as the commands that apply it see it
 * (`cmon monitor apply`, `cmon run FILE`, `cmon server FILE`): validated
 * here first, so every problem -- of a list's monitors too -- points into the
 * file itself as FILE:LINE:COL, then split into one (name, JSON text) per
 * monitor.  A file that holds one monitor is sent as it is; a list's
 * monitors are sent one by one. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "model/monitor.h"

void cli_monitor_doc_free(struct cli_monitor_doc *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->names[i]);
        free(d->texts[i]);
    }
    free(d->names);
    free(d->texts);
    free(d->lens);
    memset(d, 0, sizeof *d);
}

static void print_problems(const struct cmon_problems *probs, const char *path)
{
    for (size_t i = 0; i < probs->n; i++) {
        char line[1200];
        cmon_problem_format(&probs->items[i], path, line, sizeof line);
        fprintf(stderr, "%s\n", line);
    }
}

/* The JSON text of monitor i: the whole file for one monitor, else the
 * list element (a JSON array, or the "value" of a list response). */
static char *monitor_text(json_t *root, size_t n, size_t i, const char *text, size_t len,
                          size_t *out_len)
{
    if (n == 1) {
        *out_len = len;
        return strndup(text, len);
    }
    json_t *list = json_is_array(root) ? root : json_object_get(root, "value");
    char *s = json_dumps(json_array_get(list, i), JSON_COMPACT);
    *out_len = s ? strlen(s) : 0;
    return s;
}

static int split(struct cli_monitor_doc *d, struct cmon_monitor **ms, size_t n, const char *text,
                 size_t len)
{
    json_t *root = n > 1 ? json_loadb(text, len, 0, NULL) : NULL;
    d->names = calloc(n, sizeof *d->names);
    d->texts = calloc(n, sizeof *d->texts);
    d->lens = calloc(n, sizeof *d->lens);
    bool ok = d->names && d->texts && d->lens && (n == 1 || root);
    for (size_t i = 0; ok && i < n; i++, d->n++) {
        d->names[i] = strdup(ms[i]->name);
        d->texts[i] = monitor_text(root, n, i, text, len, &d->lens[i]);
        ok = d->names[i] && d->texts[i];
    }
    json_decref(root);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

int cli_monitor_doc_load(const char *cmd, const char *path, struct cli_monitor_doc *d)
{
    memset(d, 0, sizeof *d);
    char err[600];
    size_t len = 0;
    char *text = cli_read_file(path, &len, err, sizeof err);
    if (!text) {
        fprintf(stderr, "cmon %s: %s\n", cmd, err);
        return CLI_EXIT_FAILED;
    }
    char *def = cli_default_name(path);
    struct cmon_monitor **ms = NULL;
    size_t n = 0;
    struct cmon_problems probs = {0};
    enum cmon_err e = cmon_monitors_parse(text, len, def, &ms, &n, &probs);
    int rc = CLI_EXIT_FAILED;
    if (e) {
        print_problems(&probs, strcmp(path, "-") == 0 ? "<stdin>" : path);
        fprintf(stderr, "cmon %s: %s: %s\n", cmd, path,
                e == CMON_ERR_NOMEM ? "out of memory" : "not applied");
    } else if ((rc = split(d, ms, n, text, len)) != CLI_EXIT_OK) {
        fprintf(stderr, "cmon %s: %s: out of memory\n", cmd, path);
        cli_monitor_doc_free(d);
    }
    cmon_monitors_free(ms, n);
    cmon_problems_free(&probs);
    free(def);
    free(text);
    return rc;
}
