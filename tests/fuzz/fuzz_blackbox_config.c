/* fuzz_blackbox_config.c: libFuzzer target for the blackbox.yml parser of
 * `cmon exporter` (src/exporter/config.c) on arbitrary bytes: it must accept
 * or refuse cleanly, with no leak, whatever libyaml hands it. */
#include <stddef.h>
#include <stdint.h>

#include "exporter/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct exp_config cfg;
    struct cmon_errbuf eb;
    if (exp_config_parse((const char *)data, size, "fuzz.yml", &cfg, &eb) == CMON_OK) {
        for (size_t i = 0; i < cfg.n_modules; i++)
            (void)exp_config_module(&cfg, cfg.modules[i].name);
        exp_config_free(&cfg);
    }
    return 0;
}
