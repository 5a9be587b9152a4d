/* config.h: the blackbox_exporter configuration (blackbox.yml) as `cmon
 * exporter` reads it -- a map of modules, each a prober with its options.
 * Parsed with libyaml's document API so every error names FILE:LINE:COLUMN,
 * the module and the option.  Options cmon cannot honour are load errors,
 * never silently ignored (docs/exporter.md lists them).
 * Pure: no I/O but exp_config_load reading the file.  Ownership: a
 * struct exp_config owns every string and array in it; exp_config_free. */
#ifndef CMON_EXPORTER_CONFIG_H
#define CMON_EXPORTER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <regex.h>

#include "core/err.h"
#include "model/monitor.h"

enum exp_prober { EXP_PROBER_HTTP, EXP_PROBER_TCP, EXP_PROBER_ICMP, EXP_PROBER_DNS };
#define EXP_N_PROBERS 4

/* A regular expression as written (for messages) and compiled (POSIX ERE). */
struct exp_regex {
    char *text;
    regex_t re;
};

/* valid_http_versions, as bits of 1 << (version / 10): HTTP/1.0 = 10 ... */
#define EXP_HTTP_VERSION_BIT(v) (1u << ((v) / 10))

struct exp_http {
    char *method;   /* upper case; NULL: GET */
    char **headers; /* "Name: value" lines (basic_auth, bearer_token included) */
    size_t n_headers;
    struct cmon_status_range *valid; /* n_valid == 0: 2xx (blackbox's default) */
    size_t n_valid;
    bool fail_if_ssl, fail_if_not_ssl;
    bool no_follow;      /* no_follow_redirects / follow_redirects: false */
    char *body;          /* request body; NULL: none */
    unsigned versions;   /* valid_http_versions bits; 0: any */
    struct exp_regex *body_match, *body_not_match; /* fail_if_body_(not_)matches_regexp */
    size_t n_body_match, n_body_not_match;
    char *basic_user, *basic_password; /* basic_auth, until the header is made */
};

/* tls_config of the http and tcp probers */
struct exp_tls {
    char *ca_file;     /* NULL: system store */
    bool insecure;     /* insecure_skip_verify */
    char *server_name; /* NULL: the target's host */
};

/* tcp: tls from the start and query_response's steps (expect compiled at
 * load to report a bad one; the engine compiles its own copy). */
struct exp_tcp {
    bool tls;
    struct exp_tcp_step {
        struct exp_regex expect; /* text NULL: none */
        char *send;              /* NULL: none */
        bool starttls;
    } *steps;
    size_t n_steps;
};

struct exp_dns {
    char *query_name;       /* required */
    int query_type;         /* default ANY (255), as blackbox */
    bool recursion_desired; /* default true */
    int valid_rcodes[16];   /* n_valid_rcodes == 0: NOERROR */
    size_t n_valid_rcodes;
};

struct exp_module {
    char *name;
    enum exp_prober prober;
    uint32_t timeout_ms;       /* 0: not given (the scrape's timeout applies) */
    enum cmon_ip_pref ip_pref; /* preferred_ip_protocol; blackbox's default ip6 */
    bool ip_fallback;          /* ip_protocol_fallback; default true */
    struct exp_http http;      /* prober http only */
    struct exp_tcp tcp;        /* prober tcp only */
    struct exp_tls tls;        /* http and tcp */
    int icmp_ttl;              /* icmp.ttl; 0: the system's */
    size_t icmp_payload_size;  /* icmp.payload_size; 0: cmon's own 8 bytes */
    struct exp_dns dns;        /* prober dns only */
};

struct exp_config {
    struct exp_module *modules;
    size_t n_modules;
};

/* Parse YAML text; file names the source in error messages.  On error eb
 * reads "FILE:LINE:COL: module M: ..." and *cfg is left empty. */
enum cmon_err exp_config_parse(const char *text, size_t len, const char *file,
                               struct exp_config *cfg, struct cmon_errbuf *eb);
/* Read and parse a file (CMON_ERR_IO when unreadable). */
enum cmon_err exp_config_load(const char *path, struct exp_config *cfg, struct cmon_errbuf *eb);
void exp_config_free(struct exp_config *cfg);

const struct exp_module *exp_config_module(const struct exp_config *cfg, const char *name);
/* "http", "tcp", "icmp", "dns" */
const char *exp_prober_name(enum exp_prober p);
/* Blackbox durations: "5s", "1.5s", "500ms", "1m", "1m30s".  false when bad. */
bool exp_duration_parse(const char *s, uint32_t *ms);

#endif
