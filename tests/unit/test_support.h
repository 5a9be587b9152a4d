/* test_support.h: helpers shared by the unit tests (reading fixture files
 * from the source tree named by $CMON_SOURCE_DIR or the build's default). */
#ifndef CMON_TEST_SUPPORT_H
#define CMON_TEST_SUPPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline const char *test_source_dir(void)
{
    const char *d = getenv("CMON_SOURCE_DIR");
    return d && *d ? d : CMON_SOURCE_DIR;
}

/* Whole file into a new NUL-terminated buffer (caller frees); NULL if unreadable. */
static inline char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return buf;
}

/* Remove a test's temporary directory ("" : nothing to do); 0 on success. */
static inline int test_rm_rf(const char *dir)
{
    if (!dir[0])
        return 0;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

#endif
