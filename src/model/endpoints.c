/* endpoints.c: endpoint validation, including the cloud export forms
 * (AzureVM / AzureArcVM resource ids, Log Analytics workspace endpoints with an
 * AgentAddress filter) mapped onto cmon agents (DESIGN section 3). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/addr.h"
#include "model/validate.h"

static const char *const endpoint_fields[] = {"name",   "type",  "address", "resourceId",
                                              "filter", "scope", NULL};
/* Cloud fields with no meaning here, accepted so exported files validate. */
static const char *const endpoint_ignored[] = {"coverageLevel", "locationDetails",
                                               "subscriptionId", NULL};

enum ep_kind {
    EPK_AGENT,
    EPK_EXTERNAL,
    EPK_VM,
    EPK_ARCVM,
    EPK_WS_MACHINE,
    EPK_WS_NETWORK,
    EPK_SUBNET, /* from here on: agents selected by the scope's addresses */
    EPK_VNET,
    EPK_ARC_NETWORK,
    EPK_AGENT_GROUP,
};
static const char *const ep_types[] = {
    "Agent",          "ExternalAddress", "AzureVM",     "AzureArcVM",
    "MMAWorkspaceMachine", "MMAWorkspaceNetwork", "AzureSubnet", "AzureVNet",
    "AzureArcNetwork", "AgentGroup",      NULL};
static const char *const ep_cloud_only[] = {"AzureVMSS", NULL};

void cmon_endpoint_clear(struct cmon_endpoint *ep)
{
    free(ep->name);
    free(ep->address);
    free(ep->resource_id);
    for (size_t i = 0; i < ep->n_agents; i++)
        free(ep->agents[i]);
    free(ep->agents);
    free(ep->include);
    free(ep->exclude);
    memset(ep, 0, sizeof *ep);
}

static bool in_any(const struct cmon_cidr *c, size_t n, const char *const *addrs, size_t n_addrs,
                   const struct cmon_cidr *not_in, size_t n_not)
{
    for (size_t a = 0; a < n_addrs; a++) {
        bool in = false, out = false;
        for (size_t i = 0; !in && i < n; i++)
            in = cmon_cidr_has(&c[i], addrs[a]);
        for (size_t i = 0; in && !out && i < n_not; i++)
            out = cmon_cidr_has(&not_in[i], addrs[a]);
        if (in && !out)
            return true;
    }
    return false;
}

bool cmon_endpoint_has_agent(const struct cmon_endpoint *ep, const char *name,
                             const char *const *addresses, size_t n_addresses)
{
    if (ep->type != CMON_EP_AGENT)
        return false;
    if (ep->n_include)
        return in_any(ep->include, ep->n_include, addresses, n_addresses, ep->exclude,
                      ep->n_exclude);
    if (ep->all_agents)
        return true;
    for (size_t i = 0; i < ep->n_agents; i++) {
        if (strcmp(ep->agents[i], name) == 0)
            return true;
    }
    return ep->address && strcmp(ep->address, name) == 0;
}

/* scope.include / scope.exclude: [{"address": "10.0.0.0/24" | "10.0.0.5"}] */
static bool parse_scope_list(struct vctx *v, const json_t *scope, const char *path,
                             const char *key, struct cmon_cidr **out, size_t *n)
{
    static const char *const item_fields[] = {"address", NULL};
    const json_t *arr = vget(v, scope, path, key, JSON_ARRAY, false);
    if (!arr)
        return true;
    char p[512], ip[512], ap[512];
    vpath_key(p, sizeof p, path, key);
    *out = calloc(json_array_size(arr) + 1, sizeof **out);
    if (!*out) {
        v->oom = true;
        return false;
    }
    bool ok = true;
    size_t i;
    const json_t *it;
    json_array_foreach(arr, i, it) {
        vpath_idx(ip, sizeof ip, p, i);
        if (!json_is_object(it)) {
            vproblem(v, ip, false, "must be an object {\"address\": \"10.0.0.0/24\"}");
            ok = false;
            continue;
        }
        vcheck_fields(v, it, ip, item_fields, NULL);
        const char *a = vget_string(v, it, ip, "address", true);
        vpath_key(ap, sizeof ap, ip, "address");
        if (a && !cmon_cidr_parse(a, &(*out)[*n])) {
            vproblem(v, ap, false,
                     "\"%s\" is not an IPv4 or IPv6 address or address range (CIDR, e.g. "
                     "\"10.0.0.0/24\")",
                     a);
            ok = false;
        } else if (a) {
            (*n)++;
        }
    }
    return ok;
}

static bool parse_scope(struct vctx *v, const json_t *j, const char *path, struct cmon_endpoint *ep)
{
    static const char *const scope_fields[] = {"include", "exclude", NULL};
    const json_t *scope = vget(v, j, path, "scope", JSON_OBJECT, false);
    if (!scope)
        return true;
    char p[512];
    vpath_key(p, sizeof p, path, "scope");
    vcheck_fields(v, scope, p, scope_fields, NULL);
    return parse_scope_list(v, scope, p, "include", &ep->include, &ep->n_include) &
           parse_scope_list(v, scope, p, "exclude", &ep->exclude, &ep->n_exclude);
}

/* AzureSubnet, AzureVNet, AzureArcNetwork, AgentGroup: the agents whose
 * addresses fall inside the scope; only the cloud knows a subnet's range
 * from its resourceId alone. */
static bool endpoint_from_scope(struct vctx *v, const json_t *j, const char *path,
                                const char *addr, const char *rid, enum ep_kind kind,
                                struct cmon_endpoint *ep)
{
    ep->type = CMON_EP_AGENT;
    ep->compound = true;
    ep->kind = ep_types[kind];
    ep->address = vstrdup(v, addr ? addr : rid ? rid : ep->name ? ep->name : "");
    if (!parse_scope(v, j, path, ep))
        return false;
    if (ep->n_include)
        return true;
    if (rid)
        vproblem(v, path, false,
                 "an endpoint of type \"%s\" given by resourceId only: cmon cannot ask the "
                 "cloud for its address range; add \"scope\": {\"include\": [{\"address\": \"10.0.0.0/24\"}]} with "
                 "the range whose agents it stands for",
                 ep_types[kind]);
    else
        vproblem(v, path, false,
                 "an endpoint of type \"%s\" stands for the agents inside its scope: add "
                 "\"scope\": {\"include\": [{\"address\": \"10.0.0.0/24\"}]} (addresses or CIDR "
                 "ranges)",
                 ep_types[kind]);
    return false;
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
        bool ok = parse_scope(v, j, path, ep);
        ep->kind = ep_types[kind == EPK_WS_NETWORK ? EPK_WS_NETWORK : EPK_WS_MACHINE];
        if (!f) {
            ep->all_agents = !json_object_get(j, "filter");
            ep->compound = ok && ep->all_agents;
            return ok && ep->all_agents;
        }
        char fp[512];
        vpath_key(fp, sizeof fp, path, "filter");
        ok &= parse_filter(v, f, fp, ep);
        ep->compound = ep->n_agents > 1 || ep->n_include;
        return ok;
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
                         "machine that runs cmon agent, \"AgentGroup\" with a scope for the "
                         "agents in an address range, or \"ExternalAddress\" for an address",
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
    ep->kind = ep_types[EPK_AGENT];
    if (kind >= EPK_SUBNET)
        return endpoint_from_scope(v, j, path, addr, rid, (enum ep_kind)kind, ep);
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
