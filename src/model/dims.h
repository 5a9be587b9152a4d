/* dims.h: the one list of metric dimensions (DESIGN 6), with the seed's
 * names, that the metrics API filters by, /metrics labels its series with
 * and alert rules split and filter by.  A dimension is added here once and
 * every one of the three knows it.
 * Pure: constant tables.  Threads: any. */
#ifndef CMON_MODEL_DIMS_H
#define CMON_MODEL_DIMS_H

#include <stddef.h>

/* The first six keep the order alert keys were built in before the list
 * grew, so a stored alert keeps its key. */
enum cmon_dim {
    CMON_DIM_MONITOR,     /* ConnectionMonitorResourceId: the monitor's name */
    CMON_DIM_TEST_GROUP,  /* TestGroupName */
    CMON_DIM_SOURCE,      /* SourceName: the source endpoint's name */
    CMON_DIM_DESTINATION, /* DestinationName */
    CMON_DIM_TEST_CONFIG, /* TestConfigurationName */
    CMON_DIM_PROTOCOL,    /* Protocol: Http, Tcp, Icmp */
    CMON_DIM_SOURCE_ADDRESS,     /* the source agent's primary address */
    CMON_DIM_SOURCE_RESOURCE_ID, /* the endpoint's resourceId, else a cmon id */
    CMON_DIM_SOURCE_TYPE,
    CMON_DIM_DEST_ADDRESS,
    CMON_DIM_DEST_RESOURCE_ID,
    CMON_DIM_DEST_TYPE,
    CMON_DIM_DEST_PORT,
    CMON_DIM_REGION, /* the source agent's --region */
    CMON_DIM_TEST_ID,
    CMON_DIM__COUNT
};

/* Which dimensions name a test (what an alert of scope "test" splits by). */
#define CMON_DIM_TEST_IDENTITY_MASK ((1u << (CMON_DIM_PROTOCOL + 1)) - 1)

struct cmon_dim_info {
    const char *name;  /* the seed's: "SourceAddress" (metrics API, alert rules) */
    const char *label; /* Prometheus: "source_address" */
    const char *alert; /* alert rules' label and the name they write back:
                        * the older short name where one exists ("source") */
};
const struct cmon_dim_info *cmon_dim_info(enum cmon_dim d);
/* The dimension called name: its seed name (case-insensitive) or its alert
 * name; -1 when none. */
int cmon_dim_lookup(const char *name);
/* Every name cmon_dim_lookup takes, NULL-terminated (for did-you-mean). */
const char *const *cmon_dim_names(void);

/* The cmon id of an endpoint that has no resourceId:
 * "/cmon/connectionMonitors/MONITOR/endpoints/ENDPOINT", in out (cap). */
void cmon_dim_endpoint_id(const char *monitor, const char *endpoint, char *out, size_t cap);

#endif
