/* test_model_path.c: route comparison and hop issue attribution (loss and
 * latency that start at a hop and persist to the destination; rate-limited
 * and silent routers not blamed), and the path's JSON form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "model/path.h"

/* hops as "address:received/sent@rttms", "*" for a silent hop */
static struct cmon_path make_path(bool reached, const char *const *spec, size_t n)
{
    struct cmon_path p = {.n_hops = n, .reached = reached};
    for (size_t i = 0; i < n; i++) {
        struct cmon_hop *h = &p.hops[i];
        h->ttl = (int)i + 1;
        if (strcmp(spec[i], "*") == 0) {
            h->sent = 10;
            continue;
        }
        unsigned rx, tx;
        double rtt;
        char addr[64];
        assert_int_equal(sscanf(spec[i], "%63[^:]:%u/%u@%lf", addr, &rx, &tx, &rtt), 4);
        strcpy(h->address, addr);
        h->received = rx;
        h->sent = tx;
        h->rtt_min_ms = h->rtt_avg_ms = h->rtt_max_ms = rtt;
    }
    return p;
}

#define PATH(reached, ...)                                                                         \
    make_path(reached, (const char *const[]){__VA_ARGS__},                                         \
              sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static void test_same_route(void **state)
{
    (void)state;
    struct cmon_path a = PATH(true, "r1:10/10@1", "r2:10/10@2", "dst:10/10@3");
    struct cmon_path b = PATH(true, "r1:10/10@1", "*", "dst:10/10@3");
    struct cmon_path c = PATH(true, "r1:10/10@1", "r2b:10/10@2", "dst:10/10@3");
    struct cmon_path d = PATH(true, "r1:10/10@1", "dst:10/10@3");
    assert_true(cmon_path_same_route(&a, &a));
    assert_true(cmon_path_same_route(&a, &b)); /* silent is unknown, not different */
    assert_false(cmon_path_same_route(&a, &c));
    assert_false(cmon_path_same_route(&a, &d));
}

static void test_loss_attributed_where_it_starts(void **state)
{
    (void)state;
    struct cmon_hop_issue is[2];
    struct cmon_path p = PATH(true, "r1:10/10@1", "r2:7/10@2", "r3:7/10@3", "dst:6/10@4");
    assert_int_equal(cmon_path_issues(&p, 20, 100, is), 1);
    assert_int_equal(is[0].kind, CMON_DIAG_HOP_LOSS);
    assert_int_equal(is[0].hop, 1);
    assert_true(is[0].value == 30.0);
}

/* One lost probe of ten is chance (a healthy hop with 1 % background loss
 * does that one trace in ten), so it raises nothing even at a 10 %
 * threshold; two of ten, or 30 of 100, are not chance. */
static void test_loss_must_not_be_chance(void **state)
{
    (void)state;
    struct cmon_hop_issue is[2];
    struct cmon_path one = PATH(true, "r1:10/10@1", "r2:10/10@2", "dst:9/10@3");
    assert_int_equal(cmon_path_issues(&one, 10, 100, is), 0);
    struct cmon_path one3 = PATH(true, "r1:3/3@1", "dst:2/3@3"); /* 33 %, one probe */
    assert_int_equal(cmon_path_issues(&one3, 10, 100, is), 0);
    struct cmon_path two = PATH(true, "r1:10/10@1", "r2:8/10@2", "dst:8/10@3");
    assert_int_equal(cmon_path_issues(&two, 10, 100, is), 1);
    assert_int_equal(is[0].hop, 1);
    assert_true(is[0].value == 20.0);
    struct cmon_path many = PATH(true, "r1:100/100@1", "r2:70/100@2", "dst:70/100@3");
    assert_int_equal(cmon_path_issues(&many, 10, 100, is), 1);
    assert_int_equal(is[0].hop, 1);
    /* 3 of 100 is above a 2 % threshold, but a healthy hop loses that many
     * one time in 12 */
    struct cmon_path few = PATH(true, "r1:100/100@1", "dst:97/100@3");
    assert_int_equal(cmon_path_issues(&few, 2, 100, is), 0);
}

static void test_rate_limited_router_not_blamed(void **state)
{
    (void)state;
    struct cmon_hop_issue is[2];
    /* r2 drops half of its own time-exceeded replies; traffic through it is fine */
    struct cmon_path p = PATH(true, "r1:10/10@1", "r2:5/10@2", "r3:10/10@3", "dst:10/10@4");
    assert_int_equal(cmon_path_issues(&p, 20, 100, is), 0);
    /* r2 never answers at all: silent, not lossy */
    struct cmon_path q = PATH(true, "r1:10/10@1", "*", "r3:10/10@3", "dst:10/10@4");
    assert_int_equal(cmon_path_issues(&q, 20, 100, is), 0);
}

static void test_broken_path(void **state)
{
    (void)state;
    struct cmon_hop_issue is[2];
    struct cmon_path p = PATH(false, "r1:10/10@1", "r2:10/10@2", "*", "*");
    assert_int_equal(cmon_path_issues(&p, 20, 100, is), 1);
    assert_int_equal(is[0].kind, CMON_DIAG_HOP_LOSS);
    assert_int_equal(is[0].hop, 2);
    assert_true(is[0].value == 100.0);
}

static void test_latency(void **state)
{
    (void)state;
    struct cmon_hop_issue is[2];
    struct cmon_path p = PATH(true, "r1:10/10@1", "r2:10/10@61", "r3:10/10@62", "dst:10/10@63");
    assert_int_equal(cmon_path_issues(&p, 20, 50, is), 1);
    assert_int_equal(is[0].kind, CMON_DIAG_HOP_LATENCY);
    assert_int_equal(is[0].hop, 1);
    assert_true(is[0].value == 60.0);
    /* a slow answer from r2 alone (control plane) is not a path latency */
    struct cmon_path q = PATH(true, "r1:10/10@1", "r2:10/10@61", "r3:10/10@3", "dst:10/10@4");
    assert_int_equal(cmon_path_issues(&q, 20, 50, is), 0);
    /* exactly at the threshold counts */
    struct cmon_path r = PATH(true, "r1:10/10@1", "dst:10/10@51");
    assert_int_equal(cmon_path_issues(&r, 20, 50, is), 1);
}

static void test_json(void **state)
{
    (void)state;
    struct cmon_path p = PATH(true, "198.18.1.1:10/10@1.5", "*", "198.18.3.2:9/10@3");
    strcpy(p.hops[0].name, "r1.test");
    json_t *j = cmon_path_to_json(&p);
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(s,
                        "{\"hops\":[{\"address\":\"198.18.1.1\",\"lossPercent\":0.0,"
                        "\"name\":\"r1.test\",\"received\":10,\"rtt\":{\"avg\":1.5,\"jitter\":0.0,"
                        "\"max\":1.5,\"min\":1.5},\"sent\":10,\"ttl\":1},"
                        "{\"address\":\"\",\"lossPercent\":100.0,\"name\":\"\",\"received\":0,"
                        "\"sent\":10,\"ttl\":2},"
                        "{\"address\":\"198.18.3.2\",\"lossPercent\":10.0,\"name\":\"\","
                        "\"received\":9,\"rtt\":{\"avg\":3.0,\"jitter\":0.0,\"max\":3.0,"
                        "\"min\":3.0},\"sent\":10,\"ttl\":3}],\"reached\":true}");
    free(s);
    struct cmon_path back;
    struct cmon_errbuf eb;
    assert_int_equal(cmon_path_from_json(j, &back, &eb), CMON_OK);
    assert_int_equal(back.n_hops, 3);
    assert_true(cmon_path_same_route(&p, &back));
    assert_true(back.hops[2].rtt_avg_ms == 3.0);
    json_decref(j);
    j = json_loads("{\"reached\":true,\"hops\":[{\"ttl\":1,\"sent\":1,\"received\":2}]}", 0, NULL);
    assert_int_equal(cmon_path_from_json(j, &back, &eb), CMON_ERR_INVALID);
    assert_string_equal(eb.msg, "hops[0]: ttl 1-255, 0 <= received <= sent <= 1000 required");
    json_decref(j);
    j = json_loads("{\"reached\":true,\"hops\":[{\"ttl\":1,\"sent\":1,\"received\":1}]}", 0, NULL);
    assert_int_equal(cmon_path_from_json(j, &back, &eb), CMON_ERR_INVALID);
    assert_string_equal(eb.msg, "hops[0].rtt: min, avg, max, jitter required");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_route),
        cmocka_unit_test(test_loss_attributed_where_it_starts),
        cmocka_unit_test(test_loss_must_not_be_chance),
        cmocka_unit_test(test_rate_limited_router_not_blamed),
        cmocka_unit_test(test_broken_path),
        cmocka_unit_test(test_latency),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
