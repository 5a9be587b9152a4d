/* agent_body.c: agent-protocol body rules and decoders (agent_body.h). */
#include "model/agent_body.h"

#include <string.h>

#include "model/monitor.h"

bool cmon_agent_name_valid(const char *name)
{
    return name && strlen(name) <= CMON_AGENT_NAME_MAX && cmon_monitor_name_valid(name);
}

bool cmon_agent_text_valid(const char *s, size_t max)
{
    if (!s || strlen(s) > max)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
    }
    return true;
}
