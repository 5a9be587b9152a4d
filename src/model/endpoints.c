/* endpoints.c: endpoint validation, including the cloud export forms
 * (AzureVM / AzureArcVM resource ids, Log Analytics workspace endpoints with an
 * AgentAddress filter) mapped onto cmon agents (DESIGN section 3). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/addr.h"
#include "model/validate.h"

static const char *const endpoint_fields[] = {"name", "type", "address", "resourceId", "filter",
                                              NULL};
/* Cloud fields with no meaning here, accepted so exported files validate. */
static const char *const endpoint_ignored[] = {"scope", "coverageLevel", "locationDetails",
                                               "subscriptionId", NULL};

enum ep_kind { EPK_AGENT, EPK_EXTERNAL, EPK_VM, EPK_ARCVM, EPK_WS_MACHINE, EPK_WS_NETWORK };
static const char *const ep_types[] = {"Agent",     "ExternalAddress",     "AzureVM",
                                       "AzureArcVM", "MMAWorkspaceMachine", "MMAWorkspaceNetwork",
                                       NULL};
static const char *const ep_cloud_only[] = {"AzureSubnet", "AzureVNet", "AzureVMSS",
                                            "AzureArcNetwork", NULL};

void cmon_endpoint_clear(struct cmon_endpoint *ep)
{
    free(ep->name);
    free(ep->address);
    free(ep->resource_id);
    for (size_t i = 0; i < ep->n_agents; i++)
        free(ep->agents[i]);
    free(ep->agents);
    memset(ep, 0, sizeof *ep);
}

static bool add_agent(struct vctx *v, struct cmon_endpoint *ep, const char *name)
{
    char **a = realloc(ep->agents, (ep->n_agents + 1) * sizeof *a);
    if (!a) {
        v->oom = true;
        return false;
    }
    ep->agents = a;
    a[ep->n_agents] = vstrdup(v, name);
    if (!a[ep->n_agents])
        return false;
    ep->n_agents++;
    return true;
}

/* The machine name at the end of ".../virtualMachines/NAME" or ".../machines/NAME". */
static const char *vm_name_of(const char *rid)
{
    const char *last = strrchr(rid, '/');
    if (!last || !last[1] || last == rid)
        return NULL;
    const char *prev = last - 1;
    while (prev > rid && *prev != '/')
        prev--;
    size_t seglen = (size_t)(last - prev - 1);
    if ((seglen == 15 && strncasecmp(prev + 1, "virtualMachines", 15) == 0) ||
        (seglen == 8 && strncasecmp(prev + 1, "machines", 8) == 0))
        return last + 1;
    return NULL;
}

static bool is_workspace_id(const char *rid)
{
    return strcasestr(rid, "/workspaces/") != NULL;
}

/* filter: {"type": "Include", "items": [{"type": "AgentAddress", "address": A}]} */
static bool parse_filter(struct vctx *v, const json_t *f, const char *path,
                         struct cmon_endpoint *ep)
{
    static const char *const filter_fields[] = {"type", "items", NULL};
    static const char *const item_fields[] = {"type", "address", NULL};
    static const char *const filter_types[] = {"Include", NULL};
    static const char *const item_types[] = {"AgentAddress", NULL};
    char p[512], ip[512];
    vcheck_fields(v, f, path, filter_fields, NULL);
    const char *t = vget_string(v, f, path, "type", false);
    vpath_key(p, sizeof p, path, "type");
    if (t && vchoice(v, p, "filter type", t, filter_types) < 0)
        return false;
    const json_t *items = vget(v, f, path, "items", JSON_ARRAY, true);
    if (!items)
        return false;
    vpath_key(p, sizeof p, path, "items");
    if (json_array_size(items) == 0) {
        vproblem(v, p, false, "must list at least one agent");
        return false;
    }
    bool ok = true;
    size_t i;
    const json_t *it;
    json_array_foreach(items, i, it) {
        vpath_idx(ip, sizeof ip, p, i);
        if (!json_is_object(it)) {
            vproblem(v, ip, false, "must be an object");
            ok = false;
            continue;
        }
        vcheck_fields(v, it, ip, item_fields, NULL);
        const char *it_type = vget_string(v, it, ip, "type", false);
        char tp[512];
        vpath_key(tp, sizeof tp, ip, "type");
        if (it_type && vchoice(v, tp, "filter item type", it_type, item_types) < 0)
            ok = false;
        const char *a = vget_string(v, it, ip, "address", true);
        if (!a || !*a) {
            if (a)
                vproblem(v, ip, false, "address must name an agent");
            ok = false;
            continue;
        }
        ok &= add_agent(v, ep, a);
    }
    return ok;
}

static bool endpoint_from_resource(struct vctx *v, const json_t *j, const char *path,
                                   const char *rid, enum ep_kind kind, struct cmon_endpoint *ep)
{
    char p[512];
    vpath_key(p, sizeof p, path, "resourceId");
    bool want_vm = kind == EPK_VM || kind == EPK_ARCVM;
    bool want_ws = kind == EPK_WS_MACHINE || kind == EPK_WS_NETWORK;
    const char *vm = vm_name_of(rid);
    ep->type = CMON_EP_AGENT;
    if (vm && !want_ws)
        return add_agent(v, ep, vm);
    if (is_workspace_id(rid) && !want_vm) {
        const json_t *f = vget(v, j, path, "filter", JSON_OBJECT, false);
        if (!f) {
            ep->all_agents = !json_object_get(j, "filter");
            return ep->all_agents;
        }
        char fp[512];
        vpath_key(fp, sizeof fp, path, "filter");
        return parse_filter(v, f, fp, ep);
    }
    vproblem(v, p, false,
             "cannot map this resourceId to cmon agents: expected \".../virtualMachines/NAME\", "
             "\".../machines/NAME\" or a Log Analytics workspace; or use type \"Agent\" with the "
             "agent's name as address");
    return false;
}

bool vparse_endpoint(struct vctx *v, const json_t *j, const char *path, struct cmon_endpoint *ep)
{
    memset(ep, 0, sizeof *ep);
    vcheck_fields(v, j, path, endpoint_fields, endpoint_ignored);
    const char *name = vget_name(v, j, path, "endpoint");
    ep->name = vstrdup(v, name);
    const char *type = vget_string(v, j, path, "type", false);
    const char *addr = vget_string(v, j, path, "address", false);
    const char *rid = vget_string(v, j, path, "resourceId", false);
    if (rid)
        ep->resource_id = vstrdup(v, rid);
    char p[512];
    int kind = -1;
    if (type) {
        vpath_key(p, sizeof p, path, "type");
        for (size_t i = 0; ep_cloud_only[i]; i++) {
            if (strcasecmp(type, ep_cloud_only[i]) == 0) {
                vproblem(v, p, false,
                         "endpoint type \"%s\" has no meaning outside Azure: use \"Agent\" for a "
                         "machine that runs cmon agent, or \"ExternalAddress\" for an address",
                         type);
                return false;
            }
        }
        kind = vchoice(v, p, "endpoint type", type, ep_types);
        if (kind < 0)
            return false;
    } else if (rid) {
        kind = vm_name_of(rid) ? EPK_VM : EPK_WS_MACHINE;
    } else if (addr) {
        kind = EPK_EXTERNAL;
    } else {
        if (name)
            vproblem(v, path, false,
                     "missing \"address\": give an address (ExternalAddress) or type \"Agent\"");
        return false;
    }
    if (kind == EPK_AGENT) {
        const char *agent = addr ? addr : name;
        if (!agent || !*agent) {
            vpath_key(p, sizeof p, path, "address");
            vproblem(v, p, false, "must name the agent");
            return false;
        }
        ep->type = CMON_EP_AGENT;
        ep->address = vstrdup(v, agent);
        return add_agent(v, ep, agent);
    }
    if (kind == EPK_EXTERNAL) {
        ep->type = CMON_EP_EXTERNAL;
        if (!addr) {
            vproblem(v, path, false, "missing required field \"address\"");
            return false;
        }
        vpath_key(p, sizeof p, path, "address");
        if (cmon_addr_classify(addr) == CMON_ADDR_INVALID) {
            struct cmon_url u;
            struct cmon_errbuf eb;
            if (strstr(addr, "://") && cmon_url_parse(addr, &u, &eb) != CMON_OK)
                vproblem(v, p, false, "invalid URL \"%s\": %s", addr, eb.msg);
            else
                vproblem(v, p, false,
                         "\"%s\" is not an IPv4 or IPv6 address, host name or http(s) URL", addr);
            return false;
        }
        ep->address = vstrdup(v, addr);
        return ep->address != NULL;
    }
    if (!rid) {
        vproblem(v, path, false, "missing required field \"resourceId\" (type \"%s\")",
                 ep_types[kind]);
        return false;
    }
    ep->address = vstrdup(v, addr ? addr : rid);
    return endpoint_from_resource(v, j, path, rid, (enum ep_kind)kind, ep);
}
