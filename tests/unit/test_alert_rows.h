/* test_alert_rows.h: typed alert rules and action groups (model/alert_rule.h)
 * from JSON text, for the tests that store them; each asserts that its text
 * is valid.  Include after cmocka.h. */
#ifndef CMON_TEST_ALERT_ROWS_H
#define CMON_TEST_ALERT_ROWS_H

#include "model/alert_rule.h"
#include "store/store.h"

/* A metric rule named name: ChecksFailedPercent > threshold. */
#define TEST_RULE_JSON(name, threshold)                                                            \
    "{\"name\":\"" name "\",\"metric\":\"ChecksFailedPercent\",\"operator\":\"GreaterThan\","     \
    "\"threshold\":" #threshold "}"

static inline struct cmon_alert_rule *test_rule(const char *json)
{
    struct cmon_alert_rule *r = cmon_alert_rule_loads(json);
    assert_non_null(r);
    return r;
}

/* Store the rule json (managed by monitor, may be NULL) through alert_rule_put. */
static inline enum cmon_err test_rule_put(struct store *s, const char *json, const char *monitor,
                                          bool *created, struct cmon_errbuf *eb)
{
    struct cmon_alert_rule *r = test_rule(json);
    if (monitor)
        assert_non_null(r->monitor = strdup(monitor));
    enum cmon_err err = s->ops->alert_rule_put(s, r, created, eb);
    cmon_alert_rule_free(r);
    return err;
}

static inline enum cmon_err test_group_put(struct store *s, const char *json, bool *created,
                                           struct cmon_errbuf *eb)
{
    struct cmon_action_group *g = cmon_action_group_loads(json);
    assert_non_null(g);
    enum cmon_err err = s->ops->action_group_put(s, g, created, eb);
    cmon_action_group_free(g);
    return err;
}

#endif
