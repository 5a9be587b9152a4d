/* fuzz_monitor.c: libFuzzer target for the monitor parser, validator and
 * expander -- no input may crash, leak or trip a sanitizer. */
#include <stddef.h>
#include <stdint.h>

#include "model/monitor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cmon_monitor *m = NULL;
    struct cmon_problems probs = {0};
    if (cmon_monitor_parse((const char *)data, size, "fuzz", &m, &probs) == CMON_OK) {
        struct cmon_test *tests;
        size_t n;
        if (cmon_monitor_expand(m, &tests, &n) == CMON_OK)
            cmon_tests_free(tests, n);
    }
    for (size_t i = 0; i < probs.n; i++) {
        char line[1200];
        cmon_problem_format(&probs.items[i], "f.json", line, sizeof line);
    }
    cmon_problems_free(&probs);
    cmon_monitor_free(m);
    return 0;
}
