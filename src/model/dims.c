/* dims.c: the dimension table of dims.h. */
#include "model/dims.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct cmon_dim_info dims[CMON_DIM__COUNT] = {
    [CMON_DIM_MONITOR] = {"ConnectionMonitorResourceId", "connection_monitor_resource_id",
                          "monitor"},
    [CMON_DIM_TEST_GROUP] = {"TestGroupName", "test_group_name", "testGroup"},
    [CMON_DIM_SOURCE] = {"SourceName", "source_name", "source"},
    [CMON_DIM_DESTINATION] = {"DestinationName", "destination_name", "destination"},
    [CMON_DIM_TEST_CONFIG] = {"TestConfigurationName", "test_configuration_name",
                              "testConfiguration"},
    [CMON_DIM_PROTOCOL] = {"Protocol", "protocol", "protocol"},
    [CMON_DIM_SOURCE_ADDRESS] = {"SourceAddress", "source_address", "SourceAddress"},
    [CMON_DIM_SOURCE_RESOURCE_ID] = {"SourceResourceId", "source_resource_id",
                                     "SourceResourceId"},
    [CMON_DIM_SOURCE_TYPE] = {"SourceType", "source_type", "SourceType"},
    [CMON_DIM_DEST_ADDRESS] = {"DestinationAddress", "destination_address", "DestinationAddress"},
    [CMON_DIM_DEST_RESOURCE_ID] = {"DestinationResourceId", "destination_resource_id",
                                   "DestinationResourceId"},
    [CMON_DIM_DEST_TYPE] = {"DestinationType", "destination_type", "DestinationType"},
    [CMON_DIM_DEST_PORT] = {"DestinationPort", "destination_port", "DestinationPort"},
    [CMON_DIM_REGION] = {"Region", "region", "Region"},
    [CMON_DIM_TEST_ID] = {"TestId", "test_id", "TestId"},
};

/* seed names, then the alert names that differ from them */
static const char *const all_names[] = {
    "ConnectionMonitorResourceId", "TestGroupName", "SourceName", "DestinationName",
    "TestConfigurationName", "Protocol", "SourceAddress", "SourceResourceId", "SourceType",
    "DestinationAddress", "DestinationResourceId", "DestinationType", "DestinationPort", "Region",
    "TestId", "monitor", "testGroup", "source", "destination", "testConfiguration", "protocol",
    NULL};

const struct cmon_dim_info *cmon_dim_info(enum cmon_dim d)
{
    return (unsigned)d < CMON_DIM__COUNT ? &dims[d] : NULL;
}

int cmon_dim_lookup(const char *name)
{
    for (int d = 0; name && d < CMON_DIM__COUNT; d++) {
        if (strcasecmp(name, dims[d].name) == 0 || strcmp(name, dims[d].alert) == 0)
            return d;
    }
    return -1;
}

const char *const *cmon_dim_names(void)
{
    return all_names;
}

void cmon_dim_endpoint_id(const char *monitor, const char *endpoint, char *out, size_t cap)
{
    snprintf(out, cap, "/cmon/connectionMonitors/%s/endpoints/%s", monitor, endpoint);
}
