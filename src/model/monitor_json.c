/* monitor_json.c: JSON views of expanded tests and validation problems, shared
 * by `cmon validate --json` and the API so both say the same thing. */
#include <jansson.h>

#include "model/monitor.h"

json_t *cmon_test_to_json(const struct cmon_monitor *m, const struct cmon_test *t)
{
    const struct cmon_test_group *g = &m->groups[t->group];
    return json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:b}", "number",
                     t->number, "id", t->id, "testGroup", g->name, "source",
                     m->endpoints[t->source].name, "destination",
                     m->endpoints[t->destination].name, "testConfiguration",
                     m->configs[t->config].name, "protocol", cmon_protocol_name(t->protocol),
                     "target", t->target, "port", t->port, "frequencySec", t->frequency_sec,
                     "disabled", g->disabled);
}

json_t *cmon_problems_to_json(const struct cmon_problems *p)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < p->n; i++) {
        const struct cmon_problem *x = &p->items[i];
        json_array_append_new(arr, json_pack("{s:i, s:i, s:s, s:s}", "line", x->line, "col",
                                             x->col, "path", x->path, "message", x->message));
    }
    return arr;
}
