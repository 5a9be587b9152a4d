/* agent_body.h: the agent protocol's bodies as data (DESIGN 7) -- the rules
 * for what an agent may say about itself (names, versions, addresses) and,
 * with agent_body.c, pure decoders that return errors instead of replying,
 * shared by the server's handlers and the fuzz target.
 * Pure: no I/O, no clock.  Ownership: decoded strings point into the JSON. */
#ifndef CMON_MODEL_AGENT_BODY_H
#define CMON_MODEL_AGENT_BODY_H

#include <stdbool.h>
#include <stddef.h>

/* An agent's name is its identity (token name, batch bookkeeping): the
 * monitor-name charset [A-Za-z0-9._-], 1..63, no leading '.' or '-'. */
#define CMON_AGENT_NAME_MAX 63
bool cmon_agent_name_valid(const char *name);

/* A string an agent reports that is logged or shown (version, addresses):
 * at most max bytes, no control characters (a newline would forge a log
 * line), valid as jansson gives it (UTF-8). */
bool cmon_agent_text_valid(const char *s, size_t max);

#endif
