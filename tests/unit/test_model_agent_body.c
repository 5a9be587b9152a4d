/* test_model_agent_body.c: the agent protocol's body decoders return the
 * API's error code and field for every refusal (no reply, no crash), and
 * decode what real agents send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "model/agent_body.h"

#define ROUND                                                                                      \
    "{\"testId\":\"0123456789abcdef\",\"startNs\":1767323045000000000,\"checksTotal\":3,"          \
    "\"checksFailed\":3,\"diagnostic\":\"timeout\",\"detail\":\"\"}"
#define PATH                                                                                       \
    "{\"testId\":\"0123456789abcdef\",\"startNs\":1767323045000000000,\"path\":{\"reached\":"      \
    "false,\"hops\":[{\"ttl\":1,\"sent\":3,\"received\":0}]}}"

static enum cmon_err batch(const char *text, struct cmon_agent_batch *b, struct cmon_agent_err *e)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    enum cmon_err err = cmon_agent_batch_decode(j, b, e);
    json_decref(j);
    return err;
}

static void expect_batch_refused(const char *text, const char *code, const char *field)
{
    struct cmon_agent_batch b;
    struct cmon_agent_err e;
    assert_int_equal(batch(text, &b, &e), CMON_ERR_INVALID);
    assert_string_equal(e.code, code);
    assert_string_equal(e.field, field);
    assert_true(strlen(e.message) > 0);
    assert_null(b.results);
}

static void test_batch(void **state)
{
    (void)state;
    struct cmon_agent_batch b;
    struct cmon_agent_err e;
    assert_int_equal(batch("{\"batch\":7,\"spoolId\":\"6a90a80d72442617\",\"results\":[" ROUND
                           "," ROUND "],\"paths\":[" PATH "]}",
                           &b, &e),
                     CMON_OK);
    assert_int_equal(b.seq, 7);
    assert_string_equal(b.spool_id, "6a90a80d72442617");
    assert_int_equal(b.n_results, 2);
    assert_int_equal(b.n_paths, 1);
    assert_string_equal(b.paths[0].test_id, "0123456789abcdef");
    cmon_agent_batch_free(&b);
    assert_int_equal(batch("{\"batch\":4611686018427387903,\"results\":[]}", &b, &e), CMON_OK);
    assert_string_equal(b.spool_id, "");
    cmon_agent_batch_free(&b);
    expect_batch_refused("{\"batch\":4611686018427387904,\"results\":[]}", "invalid_parameter",
                         "batch");
    expect_batch_refused("{\"batch\":-1,\"results\":[]}", "invalid_parameter", "batch");
    expect_batch_refused("{\"batch\":1,\"spoolId\":\"ABC\",\"results\":[]}", "invalid_parameter",
                         "spoolId");
    expect_batch_refused("{\"batch\":1,\"results\":{}}", "invalid_parameter", "results");
    expect_batch_refused("{\"batch\":1,\"results\":[" ROUND ",{\"testId\":1}]}",
                         "validation_failed", "results[1]");
    expect_batch_refused("{\"batch\":1,\"results\":[],\"paths\":[{}]}", "validation_failed",
                         "paths[0]");
    expect_batch_refused("{\"batch\":1,\"results\":[],\"paths\":7}", "invalid_parameter", "paths");
}

static enum cmon_err facts(bool reg, const char *text, struct cmon_agent_facts *f,
                           struct cmon_agent_err *e)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    enum cmon_err err =
        reg ? cmon_agent_register_decode(j, f, e) : cmon_agent_heartbeat_decode(j, f, e);
    json_decref(j);
    return err;
}

static void expect_facts_refused(bool reg, const char *text, const char *field)
{
    struct cmon_agent_facts f;
    struct cmon_agent_err e;
    assert_int_equal(facts(reg, text, &f, &e), CMON_ERR_INVALID);
    assert_string_equal(e.code, "invalid_parameter");
    assert_string_equal(e.field, field);
    cmon_agent_facts_free(&f);
}

static void test_register_heartbeat(void **state)
{
    (void)state;
    struct cmon_agent_facts f;
    struct cmon_agent_err e;
    json_t *j = json_loads("{\"name\":\"agent-a\",\"version\":\"0.1.0\",\"addresses\":"
                           "[\"198.18.11.2\"],\"heartbeatSec\":10}",
                           0, NULL);
    assert_int_equal(cmon_agent_register_decode(j, &f, &e), CMON_OK);
    assert_string_equal(f.name, "agent-a");
    assert_string_equal(f.version, "0.1.0");
    assert_string_equal(f.addresses, "[\"198.18.11.2\"]");
    assert_int_equal(f.heartbeat_sec, 10);
    cmon_agent_facts_free(&f);
    json_decref(j);
    assert_int_equal(facts(false, "{\"spool\":{\"pendingBatches\":1}}", &f, &e), CMON_OK);
    assert_string_equal(f.spool, "{\"pendingBatches\":1}");
    assert_string_equal(f.addresses, "[]");
    assert_int_equal(f.heartbeat_sec, 0);
    cmon_agent_facts_free(&f);
    expect_facts_refused(true, "{\"name\":123}", "name");
    expect_facts_refused(true, "{\"name\":\"a b\"}", "name");
    expect_facts_refused(true, "{\"name\":\"a\",\"version\":\"1\\nlevel=error\"}", "version");
    expect_facts_refused(true, "{\"name\":\"a\",\"bogus\":1}", "bogus");
    expect_facts_refused(false, "{\"addresses\":[\"x\\r\"]}", "addresses");
    expect_facts_refused(false, "{\"heartbeatSec\":0}", "heartbeatSec");
    expect_facts_refused(false, "{\"spool\":[]}", "spool");
    expect_facts_refused(false, "{\"name\":\"a\"}", "name");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_register_heartbeat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
