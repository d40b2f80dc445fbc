/*
 * it_config.c -- directive table, per-directory and per-server config.
 *
 * As mod_dbd does: one setter per kind of value, explicit "unset" markers,
 * merge takes the child's value when set. Every setter validates its value
 * so that `apachectl configtest` fails with a message naming the directive.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <httpd.h>
#include <http_config.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "it_config.h"
#include "it_types.h"

const char *const it_config_default_types[] = {
    "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf",
    "text/plain", "text/csv", "application/json", "application/zip",
    "application/gzip", NULL
};

const char *it_config_parse_size(apr_pool_t *pool, const char *arg,
                                 long long min, long long max, long long *out)
{
    char *end;
    long long v, mult = 1;

    errno = 0;
    if (!arg || !apr_isdigit(*arg)) {
        return apr_psprintf(pool, "'%s' is not a size (bytes, or with K, M, G)",
                            arg ? arg : "");
    }
    v = strtoll(arg, &end, 10);
    if (*end == 'K' || *end == 'k') {
        mult = 1024;
        end++;
    }
    else if (*end == 'M' || *end == 'm') {
        mult = 1024 * 1024;
        end++;
    }
    else if (*end == 'G' || *end == 'g') {
        mult = 1024LL * 1024 * 1024;
        end++;
    }
    if (errno || *end || v > max / mult || v * mult < min || v * mult > max) {
        return apr_psprintf(pool, "'%s' must be a size between %" APR_INT64_T_FMT " and %" APR_INT64_T_FMT " "
                            "bytes (K, M and G suffixes allowed)", arg, (apr_int64_t)min, (apr_int64_t)max);
    }
    *out = v * mult;
    return NULL;
}

const char *it_config_parse_int(apr_pool_t *pool, const char *arg,
                                long long min, long long max, int *out)
{
    char *end;
    long long v;

    errno = 0;
    if (!arg || !(apr_isdigit(*arg) || (*arg == '-' && apr_isdigit(arg[1])))) {
        return apr_psprintf(pool, "'%s' is not an integer", arg ? arg : "");
    }
    v = strtoll(arg, &end, 10);
    if (errno || *end || v < min || v > max) {
        return apr_psprintf(pool, "'%s' must be an integer between %" APR_INT64_T_FMT " and %" APR_INT64_T_FMT "",
                            arg, (apr_int64_t)min, (apr_int64_t)max);
    }
    *out = (int)v;
    return NULL;
}

const char *it_config_check_mime(apr_pool_t *pool, const char *arg)
{
    const char *slash = strchr(arg, '/');
    const char *p;

    if (!slash || slash == arg || slash[1] == '\0' || strchr(slash + 1, '/')) {
        return apr_psprintf(pool, "'%s' is not a media type (type/subtype)", arg);
    }
    for (p = arg; *p; p++) {
        if (!(apr_isalnum(*p) || strchr("/.+-_", *p))) {
            return apr_psprintf(pool, "'%s' is not a media type (type/subtype)",
                                arg);
        }
    }
    return NULL;
}

void *it_config_create_dir(apr_pool_t *pool, char *dir)
{
    it_config_t *c = apr_pcalloc(pool, sizeof(*c));
    (void)dir;
    c->max_upload_size = -1;
    c->max_import_rows = -1;
    c->page_size_max = -1;
    c->require_version = -1;
    c->prepared = -1;
    c->token_ttl = -1;
    c->auto_provision = -1;
    c->max_body_size = -1;
    c->retry_after = -1;
    c->bcrypt_cost = -1;
    return c;
}

#define IT_MERGE_NUM(f) (add->f != -1 ? add->f : base->f)
#define IT_MERGE_PTR(f) (add->f ? add->f : base->f)

void *it_config_merge_dir(apr_pool_t *pool, void *basev, void *addv)
{
    it_config_t *base = basev, *add = addv;
    it_config_t *c = apr_pcalloc(pool, sizeof(*c));

    c->upload_dir = IT_MERGE_PTR(upload_dir);
    c->max_upload_size = IT_MERGE_NUM(max_upload_size);
    c->allowed_types = IT_MERGE_PTR(allowed_types);
    c->max_import_rows = IT_MERGE_NUM(max_import_rows);
    c->page_size_max = IT_MERGE_NUM(page_size_max);
    c->require_version = IT_MERGE_NUM(require_version);
    c->prepared = IT_MERGE_NUM(prepared);
    c->token_secret = IT_MERGE_PTR(token_secret);
    c->token_ttl = IT_MERGE_NUM(token_ttl);
    c->role_claim = IT_MERGE_PTR(role_claim);
    c->auto_provision = IT_MERGE_NUM(auto_provision);
    c->max_body_size = IT_MERGE_NUM(max_body_size);
    c->retry_after = IT_MERGE_NUM(retry_after);
    c->bcrypt_cost = IT_MERGE_NUM(bcrypt_cost);
    return c;
}

void *it_config_create_server(apr_pool_t *pool, server_rec *s)
{
    it_server_config_t *c = apr_pcalloc(pool, sizeof(*c));
    (void)s;
    c->statement_timeout_ms = -1;
    c->lock_timeout_ms = -1;
    c->idle_tx_timeout_ms = -1;
    return c;
}

void *it_config_merge_server(apr_pool_t *pool, void *basev, void *addv)
{
    it_server_config_t *base = basev, *add = addv;
    it_server_config_t *c = apr_pcalloc(pool, sizeof(*c));

    c->statement_timeout_ms = IT_MERGE_NUM(statement_timeout_ms);
    c->lock_timeout_ms = IT_MERGE_NUM(lock_timeout_ms);
    c->idle_tx_timeout_ms = IT_MERGE_NUM(idle_tx_timeout_ms);
    return c;
}

it_config_t *it_config_resolve(apr_pool_t *pool, const it_config_t *in)
{
    it_config_t *c = apr_pmemdup(pool, in, sizeof(*c));

#define IT_DEFAULT(f, v) if (c->f == -1) c->f = (v)
    if (!c->upload_dir) {
        c->upload_dir = IT_DEFAULT_UPLOAD_DIR;
    }
    if (!c->role_claim) {
        c->role_claim = IT_DEFAULT_ROLE_CLAIM;
    }
    IT_DEFAULT(max_upload_size, IT_DEFAULT_MAX_UPLOAD);
    IT_DEFAULT(max_import_rows, IT_DEFAULT_MAX_IMPORT_ROWS);
    IT_DEFAULT(page_size_max, IT_DEFAULT_PAGE_SIZE_MAX);
    IT_DEFAULT(require_version, 1);
    IT_DEFAULT(prepared, 1);
    IT_DEFAULT(token_ttl, IT_DEFAULT_TOKEN_TTL);
    IT_DEFAULT(auto_provision, 0);
    IT_DEFAULT(max_body_size, IT_DEFAULT_MAX_BODY);
    IT_DEFAULT(retry_after, IT_DEFAULT_RETRY_AFTER);
    IT_DEFAULT(bcrypt_cost, IT_DEFAULT_BCRYPT_COST);
#undef IT_DEFAULT
    return c;
}

/* ---- directive setters: one per value kind ------------------------------ */

/* Field offset travels in cmd->info, as ap_set_*_slot do. */
#define IT_FIELD(c, cmd, type) ((type *)((char *)(c) + (size_t)(cmd)->info))

static const char *it_err(cmd_parms *cmd, const char *msg)
{
    return apr_pstrcat(cmd->pool, cmd->directive->directive, ": ", msg, NULL);
}

static const char *it_set_size(cmd_parms *cmd, void *conf, const char *arg)
{
    long long v;
    /* upper bound: 1 TiB for uploads, anything less is enforced per field */
    const char *err = it_config_parse_size(cmd->pool, arg, 1,
                                           1024LL * 1024 * 1024 * 1024, &v);
    if (err) {
        return it_err(cmd, err);
    }
    *IT_FIELD(conf, cmd, long long) = v;
    return NULL;
}

static const char *it_set_int_range(cmd_parms *cmd, int *slot, const char *arg,
                                    long long min, long long max)
{
    const char *err = it_config_parse_int(cmd->pool, arg, min, max, slot);
    return err ? it_err(cmd, err) : NULL;
}

static const char *it_set_page_size(cmd_parms *cmd, void *conf, const char *arg)
{
    return it_set_int_range(cmd, &((it_config_t *)conf)->page_size_max, arg,
                            1, 1000);
}

static const char *it_set_import_rows(cmd_parms *cmd, void *conf, const char *arg)
{
    return it_set_int_range(cmd, &((it_config_t *)conf)->max_import_rows, arg,
                            1, 10000000);
}

static const char *it_set_token_ttl(cmd_parms *cmd, void *conf, const char *arg)
{
    return it_set_int_range(cmd, &((it_config_t *)conf)->token_ttl, arg,
                            60, 30 * 86400);
}

static const char *it_set_retry_after(cmd_parms *cmd, void *conf, const char *arg)
{
    return it_set_int_range(cmd, &((it_config_t *)conf)->retry_after, arg,
                            1, 3600);
}

static const char *it_set_bcrypt_cost(cmd_parms *cmd, void *conf, const char *arg)
{
    /* apr_bcrypt_encode accepts 4..31 */
    return it_set_int_range(cmd, &((it_config_t *)conf)->bcrypt_cost, arg,
                            4, 31);
}

static const char *it_set_flag(cmd_parms *cmd, void *conf, int on)
{
    *IT_FIELD(conf, cmd, int) = on ? 1 : 0;
    return NULL;
}

static const char *it_set_upload_dir(cmd_parms *cmd, void *conf, const char *arg)
{
    if (*arg != '/') {
        return it_err(cmd, apr_psprintf(cmd->pool,
                      "'%s' must be an absolute path", arg));
    }
    ((it_config_t *)conf)->upload_dir = arg;
    return NULL;
}

static const char *it_set_secret(cmd_parms *cmd, void *conf, const char *arg)
{
    /* HS256 keys shorter than the hash output weaken the MAC (RFC 7518 3.2) */
    if (strlen(arg) < 32) {
        return it_err(cmd, "the secret must be at least 32 characters long");
    }
    ((it_config_t *)conf)->token_secret = arg;
    return NULL;
}

static const char *it_set_role_claim(cmd_parms *cmd, void *conf, const char *arg)
{
    const char *p;
    for (p = arg; *p; p++) {
        if (!(apr_isalnum(*p) || *p == '_' || *p == '-' || *p == '.')) {
            return it_err(cmd, apr_psprintf(cmd->pool,
                          "'%s' is not a claim name", arg));
        }
    }
    if (!*arg) {
        return it_err(cmd, "the claim name must not be empty");
    }
    ((it_config_t *)conf)->role_claim = arg;
    return NULL;
}

static const char *it_set_types(cmd_parms *cmd, void *conf, const char *arg)
{
    it_config_t *c = conf;
    const char *err = it_config_check_mime(cmd->pool, arg);

    if (err) {
        return it_err(cmd, err);
    }
    if (!c->allowed_types) {
        c->allowed_types = apr_array_make(cmd->pool, 8, sizeof(const char *));
    }
    *(const char **)apr_array_push(c->allowed_types) = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *it_set_server_ms(cmd_parms *cmd, void *dummy, const char *arg)
{
    it_server_config_t *c = ap_get_module_config(cmd->server->module_config,
                                                 (module *)cmd->info);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    int v, *slot;

    (void)dummy;
    if (err) {
        return err;
    }
    if (!strcasecmp(cmd->directive->directive, "IssueTrackerStatementTimeout")) {
        slot = &c->statement_timeout_ms;
    }
    else if (!strcasecmp(cmd->directive->directive, "IssueTrackerLockTimeout")) {
        slot = &c->lock_timeout_ms;
    }
    else {
        slot = &c->idle_tx_timeout_ms;
    }
    err = it_config_parse_int(cmd->pool, arg, 1, 3600 * 1000, &v);
    if (err) {
        return it_err(cmd, err);
    }
    *slot = v;
    return NULL;
}

extern module AP_MODULE_DECLARE_DATA issuetracker_module;

#define IT_OFF(f) (void *)APR_OFFSETOF(it_config_t, f)
#define IT_WHERE (RSRC_CONF | ACCESS_CONF)

const command_rec it_config_cmds[] = {
    AP_INIT_TAKE1("IssueTrackerUploadDir", it_set_upload_dir, NULL, IT_WHERE,
                  "Directory for attachment files (absolute path)"),
    AP_INIT_TAKE1("IssueTrackerMaxUploadSize", it_set_size,
                  IT_OFF(max_upload_size), IT_WHERE,
                  "Largest attachment or import upload (bytes; K, M, G)"),
    AP_INIT_ITERATE("IssueTrackerAllowedTypes", it_set_types, NULL, IT_WHERE,
                    "Media types accepted as attachments"),
    AP_INIT_TAKE1("IssueTrackerMaxImportRows", it_set_import_rows, NULL,
                  IT_WHERE, "Most data rows a CSV import may have"),
    AP_INIT_TAKE1("IssueTrackerPageSizeMax", it_set_page_size, NULL, IT_WHERE,
                  "Largest page size a list may ask for (1-1000)"),
    AP_INIT_FLAG("IssueTrackerRequireVersion", it_set_flag,
                 IT_OFF(require_version), IT_WHERE,
                 "On: PATCH/DELETE need If-Match or a version (428 otherwise)"),
    AP_INIT_FLAG("IssueTrackerPreparedStatements", it_set_flag,
                 IT_OFF(prepared), IT_WHERE,
                 "On: statements are prepared once per pooled connection; Off "
                 "behind a transaction-pooling proxy (PgBouncer)"),
    AP_INIT_TAKE1("IssueTrackerTokenSecret", it_set_secret, NULL, IT_WHERE,
                  "HS256 key for the bearer tokens minted by /auth/token"),
    AP_INIT_TAKE1("IssueTrackerTokenTTL", it_set_token_ttl, NULL, IT_WHERE,
                  "Lifetime of minted tokens in seconds (60-2592000)"),
    AP_INIT_TAKE1("IssueTrackerRoleClaim", it_set_role_claim, NULL, IT_WHERE,
                  "Token claim that carries the role of auto-provisioned users"),
    AP_INIT_FLAG("IssueTrackerAutoProvision", it_set_flag,
                 IT_OFF(auto_provision), IT_WHERE,
                 "On: create users on first sight of a valid token"),
    AP_INIT_TAKE1("IssueTrackerMaxBodySize", it_set_size,
                  IT_OFF(max_body_size), IT_WHERE,
                  "Largest JSON request body (bytes; K, M, G)"),
    AP_INIT_TAKE1("IssueTrackerRetryAfter", it_set_retry_after, NULL, IT_WHERE,
                  "Seconds sent in Retry-After with 503 responses"),
    AP_INIT_TAKE1("IssueTrackerBcryptCost", it_set_bcrypt_cost, NULL, IT_WHERE,
                  "bcrypt cost for stored passwords (4-31)"),
    AP_INIT_TAKE1("IssueTrackerStatementTimeout", it_set_server_ms,
                  &issuetracker_module, RSRC_CONF,
                  "statement_timeout of pooled sessions, in ms"),
    AP_INIT_TAKE1("IssueTrackerLockTimeout", it_set_server_ms,
                  &issuetracker_module, RSRC_CONF,
                  "lock_timeout of pooled sessions, in ms"),
    AP_INIT_TAKE1("IssueTrackerIdleTransactionTimeout", it_set_server_ms,
                  &issuetracker_module, RSRC_CONF,
                  "idle_in_transaction_session_timeout of pooled sessions, in ms"),
    { NULL }
};
