/*
 * test_config.c -- directive value parsers, create/merge/resolve of the
 * per-directory and per-server configuration, and the directive setters
 * called through the command table as httpd would call them.
 *
 * Linked with it_config.c and stub_httpd.c (Makefile: names containing
 * test_config).
 */
#include <limits.h>

#include <httpd.h>
#include <http_config.h>

#include "it_test.h"
#include "it_config.h"

extern const command_rec it_config_cmds[];
extern module AP_MODULE_DECLARE_DATA issuetracker_module;

#define KiB 1024LL
#define MiB (1024LL * 1024)
#define GiB (1024LL * 1024 * 1024)
#define TiB (1024LL * 1024 * 1024 * 1024)

/* ---- it_config_parse_size ------------------------------------------------ */

typedef struct {
    const char *arg;
    long long min, max;
    int ok;
    long long value;
} it_size_case_t;

static const it_size_case_t size_cases[] = {
    { "0",          0, TiB, 1, 0 },
    { "1",          1, TiB, 1, 1 },
    { "1048576",    1, TiB, 1, MiB },
    { "1K",         1, TiB, 1, KiB },
    { "1k",         1, TiB, 1, KiB },
    { "25M",        1, TiB, 1, 25 * MiB },
    { "25m",        1, TiB, 1, 25 * MiB },
    { "2G",         1, TiB, 1, 2 * GiB },
    { "1024G",      1, TiB, 1, TiB },              /* exactly the max */
    { "1025G",      1, TiB, 0, 0 },                /* above the max */
    { "1099511627777", 1, TiB, 0, 0 },
    { "9223372036854775807",  1, LLONG_MAX, 1, LLONG_MAX },
    { "9223372036854775808",  1, LLONG_MAX, 0, 0 }, /* strtoll overflow */
    { "99999999999999999999", 1, TiB, 0, 0 },
    { "9007199254740993G", 1, LLONG_MAX, 0, 0 },   /* v * G overflows */
    { "8589934592G", 1, LLONG_MAX, 0, 0 },         /* = 2^63 exactly */
    { "0",          1, TiB, 0, 0 },                /* below min */
    { "0K",         1, TiB, 0, 0 },
    { "1K",         2000, TiB, 0, 0 },
    { "2K",         2000, TiB, 1, 2 * KiB },
    { "",           1, TiB, 0, 0 },
    { "K",          1, TiB, 0, 0 },
    { "abc",        1, TiB, 0, 0 },
    { "-1",         0, TiB, 0, 0 },
    { "+1",         0, TiB, 0, 0 },
    { " 1",         1, TiB, 0, 0 },
    { "1 ",         1, TiB, 0, 0 },
    { "1 K",        1, TiB, 0, 0 },
    { "1KB",        1, TiB, 0, 0 },
    { "1T",         1, TiB, 0, 0 },
    { "1.5M",       1, TiB, 0, 0 },
    { "0x10",       1, TiB, 0, 0 },
    { "12abc",      1, TiB, 0, 0 },
    { NULL,         1, TiB, 0, 0 },
};

static void test_parse_size_table(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    size_t i;
    int bad = 0;

    for (i = 0; i < sizeof(size_cases) / sizeof(size_cases[0]); i++) {
        const it_size_case_t *c = &size_cases[i];
        long long v = -42;
        const char *err = it_config_parse_size(pool, c->arg, c->min, c->max, &v);

        if (c->ok) {
            IT_CHECK(bad, err == NULL, "size \"%s\": error \"%s\"", c->arg,
                     IT_S(err));
            IT_CHECK(bad, v == c->value, "size \"%s\" = %lld, want %lld",
                     c->arg, v, c->value);
        }
        else {
            IT_CHECK(bad, err != NULL && *err, "size \"%s\" [%lld, %lld]: "
                     "accepted as %lld", IT_S(c->arg), c->min, c->max, v);
            IT_CHECK(bad, v == -42, "size \"%s\": output written on error",
                     IT_S(c->arg));
        }
    }
    IT_CHECK_DONE(bad);
}

/* The message names the offending value so configtest output is useful. */
static void test_parse_size_message_quotes_value(void **state)
{
    long long v;
    const char *err = it_config_parse_size(IT_POOL(state), "12Q", 1, MiB, &v);

    assert_non_null(err);
    assert_non_null(strstr(err, "'12Q'"));
}

/* ---- it_config_parse_int ------------------------------------------------- */

typedef struct {
    const char *arg;
    long long min, max;
    int ok;
    int value;
} it_int_case_t;

static const it_int_case_t int_cases[] = {
    { "1",     1, 1000, 1, 1 },
    { "1000",  1, 1000, 1, 1000 },
    { "50",    1, 1000, 1, 50 },
    { "007",   1, 1000, 1, 7 },
    { "0",     1, 1000, 0, 0 },
    { "1001",  1, 1000, 0, 0 },
    { "-5",   -10, 10,  1, -5 },
    { "-10",  -10, 10,  1, -10 },
    { "-11",  -10, 10,  0, 0 },
    { "-1",    0, 10,   0, 0 },
    { "-",     0, 10,   0, 0 },
    { "--1",  -10, 10,  0, 0 },
    { "+1",    0, 10,   0, 0 },
    { "",      0, 10,   0, 0 },
    { "abc",   0, 10,   0, 0 },
    { "5x",    0, 10,   0, 0 },
    { "5 ",    0, 10,   0, 0 },
    { " 5",    0, 10,   0, 0 },
    { "5.0",   0, 10,   0, 0 },
    { "1e3",   0, 10000, 0, 0 },
    { "0x10",  0, 100,  0, 0 },
    { "99999999999999999999", 0, 100, 0, 0 },
    { "2147483647", 0, INT_MAX, 1, INT_MAX },
    { NULL,    0, 10,   0, 0 },
};

static void test_parse_int_table(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    size_t i;
    int bad = 0;

    for (i = 0; i < sizeof(int_cases) / sizeof(int_cases[0]); i++) {
        const it_int_case_t *c = &int_cases[i];
        int v = -42;
        const char *err = it_config_parse_int(pool, c->arg, c->min, c->max, &v);

        if (c->ok) {
            IT_CHECK(bad, err == NULL, "int \"%s\": error \"%s\"", c->arg,
                     IT_S(err));
            IT_CHECK(bad, v == c->value, "int \"%s\" = %d, want %d", c->arg, v,
                     c->value);
        }
        else {
            IT_CHECK(bad, err != NULL && *err, "int \"%s\" [%lld, %lld]: "
                     "accepted as %d", IT_S(c->arg), c->min, c->max, v);
            IT_CHECK(bad, v == -42, "int \"%s\": output written on error",
                     IT_S(c->arg));
        }
    }
    IT_CHECK_DONE(bad);
}

/* ---- it_config_check_mime ------------------------------------------------ */

typedef struct {
    const char *arg;
    int ok;
} it_mime_case_t;

static const it_mime_case_t mime_cases[] = {
    { "image/png", 1 },
    { "application/pdf", 1 },
    { "application/vnd.ms-excel", 1 },
    { "image/svg+xml", 1 },
    { "application/x-7z-compressed", 1 },
    { "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", 1 },
    { "text/x_custom", 1 },
    { "image", 0 },
    { "/png", 0 },
    { "image/", 0 },
    { "/", 0 },
    { "", 0 },
    { "a/b/c", 0 },
    { "image/*", 0 },
    { "*/*", 0 },
    { "image/p ng", 0 },
    { "text/plain; charset=utf-8", 0 },
    { "text/plain;", 0 },
    { "image/png\n", 0 },
    { "image/p\xc3\xa9", 0 },
};

static void test_check_mime_table(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    size_t i;
    int bad = 0;

    for (i = 0; i < sizeof(mime_cases) / sizeof(mime_cases[0]); i++) {
        const char *err = it_config_check_mime(pool, mime_cases[i].arg);
        IT_CHECK(bad, (err == NULL) == mime_cases[i].ok,
                 "mime \"%s\": %s", mime_cases[i].arg,
                 err ? err : "accepted");
    }
    IT_CHECK_DONE(bad);
}

static void test_default_types_are_valid(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    const char *const *t;
    int n = 0, bad = 0;

    for (t = it_config_default_types; *t; t++, n++) {
        const char *err = it_config_check_mime(pool, *t);
        IT_CHECK(bad, err == NULL, "default type %s: %s", *t, IT_S(err));
    }
    assert_int_equal(n, 10);
    IT_CHECK_DONE(bad);
}

/* ---- create / merge / resolve -------------------------------------------- */

static void it_assert_unset(const it_config_t *c)
{
    assert_null(c->upload_dir);
    assert_int_equal(c->max_upload_size, -1);
    assert_null(c->allowed_types);
    assert_int_equal(c->max_import_rows, -1);
    assert_int_equal(c->page_size_max, -1);
    assert_int_equal(c->require_version, -1);
    assert_null(c->token_secret);
    assert_int_equal(c->token_ttl, -1);
    assert_null(c->role_claim);
    assert_int_equal(c->auto_provision, -1);
    assert_int_equal(c->max_body_size, -1);
    assert_int_equal(c->retry_after, -1);
    assert_int_equal(c->bcrypt_cost, -1);
}

static void test_create_dir_unset(void **state)
{
    it_config_t *c = it_config_create_dir(IT_POOL(state), "/api/v1");

    assert_non_null(c);
    it_assert_unset(c);
    it_assert_unset(it_config_create_dir(IT_POOL(state), NULL));
}

/* A config with every value set, each different from `seed`'s others. */
static it_config_t *it_config_all_set(apr_pool_t *pool, int seed)
{
    it_config_t *c = it_config_create_dir(pool, NULL);

    c->upload_dir = apr_psprintf(pool, "/srv/up%d", seed);
    c->max_upload_size = 1000 + seed;
    c->allowed_types = apr_array_make(pool, 1, sizeof(const char *));
    *(const char **)apr_array_push(c->allowed_types) =
        apr_psprintf(pool, "image/x%d", seed);
    c->max_import_rows = 2000 + seed;
    c->page_size_max = 10 + seed;
    c->require_version = seed & 1;
    c->token_secret = apr_psprintf(pool, "secret-%d", seed);
    c->token_ttl = 3000 + seed;
    c->role_claim = apr_psprintf(pool, "claim%d", seed);
    c->auto_provision = (seed + 1) & 1;
    c->max_body_size = 4000 + seed;
    c->retry_after = 5 + seed;
    c->bcrypt_cost = 4 + seed;
    return c;
}

/* Field by field: which of the two configs each value must come from. */
typedef struct {
    const char *name;
    int is_num;
    size_t off;
    size_t size;
} it_field_desc_t;

#define IT_FIELD_DESC(f, num) \
    { #f, num, APR_OFFSETOF(it_config_t, f), sizeof(((it_config_t *)0)->f) }
#define IT_NUM(f) IT_FIELD_DESC(f, 1)
#define IT_PTR(f) IT_FIELD_DESC(f, 0)

static const it_field_desc_t dir_fields[] = {
    IT_PTR(upload_dir), IT_NUM(max_upload_size), IT_PTR(allowed_types),
    IT_NUM(max_import_rows), IT_NUM(page_size_max), IT_NUM(require_version),
    IT_PTR(token_secret), IT_NUM(token_ttl), IT_PTR(role_claim),
    IT_NUM(auto_provision), IT_NUM(max_body_size), IT_NUM(retry_after),
    IT_NUM(bcrypt_cost),
};

/* Members compare as bytes: numbers by value, pointers by identity. */
static int it_field_same(const it_config_t *a, const it_config_t *b,
                         const it_field_desc_t *f)
{
    return !memcmp((const char *)a + f->off, (const char *)b + f->off, f->size);
}

static void test_merge_dir_child_wins_when_set(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    it_config_t *parent = it_config_all_set(pool, 1);
    it_config_t *child = it_config_all_set(pool, 2);
    it_config_t *m = it_config_merge_dir(pool, parent, child);
    size_t i;
    int bad = 0;

    for (i = 0; i < sizeof(dir_fields) / sizeof(dir_fields[0]); i++) {
        IT_CHECK(bad, it_field_same(m, child, &dir_fields[i]),
                 "%s: not the child's value", dir_fields[i].name);
    }
    IT_CHECK_DONE(bad);
}

static void test_merge_dir_parent_when_child_unset(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    it_config_t *parent = it_config_all_set(pool, 1);
    it_config_t *child = it_config_create_dir(pool, "/api/v1/sub");
    it_config_t *m = it_config_merge_dir(pool, parent, child);
    size_t i;
    int bad = 0;

    for (i = 0; i < sizeof(dir_fields) / sizeof(dir_fields[0]); i++) {
        IT_CHECK(bad, it_field_same(m, parent, &dir_fields[i]),
                 "%s: not the parent's value", dir_fields[i].name);
    }
    IT_CHECK_DONE(bad);
    /* merging does not modify its inputs */
    it_assert_unset(child);
}

/* Each field alone set in the child: that one from the child, all others
 * from the parent. Catches a merge line that copies the wrong member. */
static void test_merge_dir_field_by_field(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    it_config_t *parent = it_config_all_set(pool, 1);
    it_config_t *full = it_config_all_set(pool, 2);
    size_t i, k;
    int bad = 0;

    for (i = 0; i < sizeof(dir_fields) / sizeof(dir_fields[0]); i++) {
        const it_field_desc_t *f = &dir_fields[i];
        it_config_t *child = it_config_create_dir(pool, NULL);
        it_config_t *m;

        memcpy((char *)child + f->off, (const char *)full + f->off, f->size);
        m = it_config_merge_dir(pool, parent, child);
        for (k = 0; k < sizeof(dir_fields) / sizeof(dir_fields[0]); k++) {
            const it_config_t *want = k == i ? full : parent;
            IT_CHECK(bad, it_field_same(m, want, &dir_fields[k]),
                     "child sets only %s: %s not from the %s", f->name,
                     dir_fields[k].name, k == i ? "child" : "parent");
        }
    }
    IT_CHECK_DONE(bad);
}

/* Off (0) is a set value: a child's Off overrides a parent's On. */
static void test_merge_dir_off_overrides_on(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    it_config_t *parent = it_config_create_dir(pool, NULL);
    it_config_t *child = it_config_create_dir(pool, NULL);
    it_config_t *m;

    parent->require_version = 1;
    parent->auto_provision = 1;
    child->require_version = 0;
    child->auto_provision = 0;
    m = it_config_merge_dir(pool, parent, child);
    assert_int_equal(m->require_version, 0);
    assert_int_equal(m->auto_provision, 0);
}

static void test_server_create_and_merge(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    it_server_config_t *base = it_config_create_server(pool, NULL);
    it_server_config_t *add = it_config_create_server(pool, NULL);
    it_server_config_t *m;

    assert_int_equal(base->statement_timeout_ms, -1);
    assert_int_equal(base->lock_timeout_ms, -1);
    assert_int_equal(base->idle_tx_timeout_ms, -1);
    assert_null(base->session_sql);

    base->statement_timeout_ms = 100;
    base->lock_timeout_ms = 200;
    base->idle_tx_timeout_ms = 300;
    add->lock_timeout_ms = 20;
    m = it_config_merge_server(pool, base, add);
    assert_int_equal(m->statement_timeout_ms, 100);
    assert_int_equal(m->lock_timeout_ms, 20);
    assert_int_equal(m->idle_tx_timeout_ms, 300);
}

static void test_resolve_fills_defaults(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    it_config_t *in = it_config_create_dir(pool, NULL);
    it_config_t *c = it_config_resolve(pool, in);

    assert_ptr_not_equal(c, in);
    it_assert_str(c->upload_dir, IT_DEFAULT_UPLOAD_DIR);
    assert_int_equal(c->max_upload_size, IT_DEFAULT_MAX_UPLOAD);
    assert_null(c->allowed_types);                    /* NULL = defaults */
    assert_int_equal(c->max_import_rows, IT_DEFAULT_MAX_IMPORT_ROWS);
    assert_int_equal(c->page_size_max, IT_DEFAULT_PAGE_SIZE_MAX);
    assert_int_equal(c->require_version, 1);
    assert_null(c->token_secret);                     /* no default secret */
    assert_int_equal(c->token_ttl, IT_DEFAULT_TOKEN_TTL);
    it_assert_str(c->role_claim, IT_DEFAULT_ROLE_CLAIM);
    assert_int_equal(c->auto_provision, 0);
    assert_int_equal(c->max_body_size, IT_DEFAULT_MAX_BODY);
    assert_int_equal(c->retry_after, IT_DEFAULT_RETRY_AFTER);
    assert_int_equal(c->bcrypt_cost, IT_DEFAULT_BCRYPT_COST);
    /* the input (a shared per-dir config) is not modified */
    it_assert_unset(in);
}

static void test_resolve_keeps_set_values(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    it_config_t *in = it_config_all_set(pool, 2);
    it_config_t *c = it_config_resolve(pool, in);
    size_t i;
    int bad = 0;

    for (i = 0; i < sizeof(dir_fields) / sizeof(dir_fields[0]); i++) {
        IT_CHECK(bad, it_field_same(c, in, &dir_fields[i]),
                 "%s: set value replaced", dir_fields[i].name);
    }
    IT_CHECK_DONE(bad);

    /* 0 is a set value, not "unset" */
    in = it_config_create_dir(pool, NULL);
    in->require_version = 0;
    assert_int_equal(it_config_resolve(pool, in)->require_version, 0);
}

/* ---- directive setters through the command table ------------------------- */

typedef struct {
    apr_pool_t *pool;
    cmd_parms cmd;
    ap_directive_t directive;
    server_rec server;
    void *module_config[1];       /* slot issuetracker_module.module_index */
    it_config_t *dir;
    it_server_config_t *srv;
} it_cmd_env_t;

static it_cmd_env_t *it_cmd_env(apr_pool_t *pool)
{
    it_cmd_env_t *env = apr_pcalloc(pool, sizeof(*env));

    env->pool = pool;
    env->dir = it_config_create_dir(pool, NULL);
    env->srv = it_config_create_server(pool, NULL);
    env->module_config[issuetracker_module.module_index] = env->srv;
    env->server.module_config = (struct ap_conf_vector_t *)env->module_config;
    env->cmd.pool = pool;
    env->cmd.temp_pool = pool;
    env->cmd.server = &env->server;
    env->cmd.directive = &env->directive;
    return env;
}

static const command_rec *it_cmd_find(const char *name)
{
    const command_rec *c;

    for (c = it_config_cmds; c->name; c++) {
        if (!strcasecmp(c->name, name)) {
            return c;
        }
    }
    return NULL;
}

/* Calls the directive's setter with one argument (or a flag) as httpd's
 * invoke_cmd does: cmd->info from the table, the dir config as mconfig. */
static const char *it_cmd_run(it_cmd_env_t *env, const char *name,
                              const char *arg)
{
    const command_rec *c = it_cmd_find(name);

    if (!c) {
        fail_msg("no directive %s", name);
    }
    env->cmd.info = c->cmd_data;
    env->cmd.cmd = c;
    env->directive.directive = c->name;
    env->directive.args = arg;
    if (c->args_how == FLAG) {
        int on = !strcasecmp(arg, "on");
        if (!on && strcasecmp(arg, "off")) {
            return "bad flag (not the module's business)";
        }
        return c->AP_FLAG(&env->cmd, env->dir, on);
    }
    return c->AP_TAKE1(&env->cmd, env->dir, arg);
}

static void test_directive_table_shape(void **state)
{
    const command_rec *c;
    int n = 0, bad = 0;

    (void)state;
    for (c = it_config_cmds; c->name; c++, n++) {
        IT_CHECK(bad, !strncmp(c->name, "IssueTracker", 12),
                 "%s: not prefixed IssueTracker", c->name);
        IT_CHECK(bad, c->AP_TAKE1 != NULL, "%s: no setter", c->name);
        IT_CHECK(bad, c->errmsg && *c->errmsg, "%s: no help text", c->name);
        IT_CHECK(bad, c->args_how == TAKE1 || c->args_how == FLAG
                 || c->args_how == ITERATE, "%s: unexpected args_how %d",
                 c->name, (int)c->args_how);
        IT_CHECK(bad, c->req_override & RSRC_CONF, "%s: not allowed in the "
                 "server config", c->name);
    }
    assert_true(n >= 10);
    IT_CHECK_DONE(bad);
}

typedef struct {
    const char *directive;
    const char *arg;
    int ok;
} it_directive_case_t;

static const it_directive_case_t directive_cases[] = {
    { "IssueTrackerUploadDir", "/var/lib/it", 1 },
    { "IssueTrackerUploadDir", "relative/dir", 0 },
    { "IssueTrackerUploadDir", "", 0 },
    { "IssueTrackerMaxUploadSize", "10M", 1 },
    { "IssueTrackerMaxUploadSize", "0", 0 },
    { "IssueTrackerMaxUploadSize", "2T", 0 },
    { "IssueTrackerMaxUploadSize", "lots", 0 },
    { "IssueTrackerAllowedTypes", "image/png", 1 },
    { "IssueTrackerAllowedTypes", "image/*", 0 },
    { "IssueTrackerMaxImportRows", "5000", 1 },
    { "IssueTrackerMaxImportRows", "0", 0 },
    { "IssueTrackerPageSizeMax", "1000", 1 },
    { "IssueTrackerPageSizeMax", "1001", 0 },
    { "IssueTrackerPageSizeMax", "0", 0 },
    { "IssueTrackerPageSizeMax", "ten", 0 },
    { "IssueTrackerRequireVersion", "Off", 1 },
    { "IssueTrackerPreparedStatements", "Off", 1 },
    { "IssueTrackerTokenSecret", "0123456789abcdef0123456789abcdef", 1 },
    { "IssueTrackerTokenSecret", "short", 0 },
    { "IssueTrackerTokenTTL", "60", 1 },
    { "IssueTrackerTokenTTL", "59", 0 },
    { "IssueTrackerTokenTTL", "2592001", 0 },
    { "IssueTrackerRoleClaim", "realm_access.role", 1 },
    { "IssueTrackerRoleClaim", "", 0 },
    { "IssueTrackerRoleClaim", "a b", 0 },
    { "IssueTrackerAutoProvision", "On", 1 },
    { "IssueTrackerMaxBodySize", "64K", 1 },
    { "IssueTrackerMaxBodySize", "-1", 0 },
    { "IssueTrackerRetryAfter", "3600", 1 },
    { "IssueTrackerRetryAfter", "0", 0 },
    { "IssueTrackerBcryptCost", "4", 1 },
    { "IssueTrackerBcryptCost", "3", 0 },
    { "IssueTrackerBcryptCost", "32", 0 },
    { "IssueTrackerStatementTimeout", "1500", 1 },
    { "IssueTrackerStatementTimeout", "0", 0 },
    { "IssueTrackerLockTimeout", "3600000", 1 },
    { "IssueTrackerLockTimeout", "3600001", 0 },
    { "IssueTrackerIdleTransactionTimeout", "250", 1 },
};

/* configtest fails with a message that names the directive. */
static void test_directive_values_table(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    size_t i;
    int bad = 0;

    for (i = 0; i < sizeof(directive_cases) / sizeof(directive_cases[0]); i++) {
        const it_directive_case_t *c = &directive_cases[i];
        it_cmd_env_t *env = it_cmd_env(pool);
        const char *err = it_cmd_run(env, c->directive, c->arg);

        if (c->ok) {
            IT_CHECK(bad, err == NULL, "%s %s: %s", c->directive, c->arg,
                     IT_S(err));
        }
        else {
            IT_CHECK(bad, err != NULL, "%s \"%s\": accepted", c->directive,
                     c->arg);
            IT_CHECK(bad, err == NULL || strstr(err, c->directive),
                     "%s \"%s\": message \"%s\" does not name the directive",
                     c->directive, c->arg, IT_S(err));
        }
    }
    IT_CHECK_DONE(bad);
}

/* Each accepted value lands in its own member. */
static void test_directives_set_their_member(void **state)
{
    it_cmd_env_t *env = it_cmd_env(IT_POOL(state));
    it_config_t *d = env->dir;

    assert_null(it_cmd_run(env, "IssueTrackerUploadDir", "/srv/it"));
    assert_null(it_cmd_run(env, "IssueTrackerMaxUploadSize", "10M"));
    assert_null(it_cmd_run(env, "IssueTrackerAllowedTypes", "image/png"));
    assert_null(it_cmd_run(env, "IssueTrackerAllowedTypes", "text/csv"));
    assert_null(it_cmd_run(env, "IssueTrackerMaxImportRows", "5000"));
    assert_null(it_cmd_run(env, "IssueTrackerPageSizeMax", "250"));
    assert_null(it_cmd_run(env, "IssueTrackerRequireVersion", "Off"));
    assert_null(it_cmd_run(env, "IssueTrackerTokenSecret",
                           "0123456789abcdef0123456789abcdef"));
    assert_null(it_cmd_run(env, "IssueTrackerTokenTTL", "600"));
    assert_null(it_cmd_run(env, "IssueTrackerRoleClaim", "groups"));
    assert_null(it_cmd_run(env, "IssueTrackerAutoProvision", "On"));
    assert_null(it_cmd_run(env, "IssueTrackerMaxBodySize", "64K"));
    assert_null(it_cmd_run(env, "IssueTrackerRetryAfter", "7"));
    assert_null(it_cmd_run(env, "IssueTrackerBcryptCost", "10"));
    assert_null(it_cmd_run(env, "IssueTrackerStatementTimeout", "1500"));
    assert_null(it_cmd_run(env, "IssueTrackerLockTimeout", "250"));
    assert_null(it_cmd_run(env, "IssueTrackerIdleTransactionTimeout", "9000"));

    it_assert_str(d->upload_dir, "/srv/it");
    assert_int_equal(d->max_upload_size, 10 * MiB);
    assert_non_null(d->allowed_types);
    assert_int_equal(d->allowed_types->nelts, 2);
    it_assert_str(APR_ARRAY_IDX(d->allowed_types, 0, const char *), "image/png");
    it_assert_str(APR_ARRAY_IDX(d->allowed_types, 1, const char *), "text/csv");
    assert_int_equal(d->max_import_rows, 5000);
    assert_int_equal(d->page_size_max, 250);
    assert_int_equal(d->require_version, 0);
    it_assert_str(d->token_secret, "0123456789abcdef0123456789abcdef");
    assert_int_equal(d->token_ttl, 600);
    it_assert_str(d->role_claim, "groups");
    assert_int_equal(d->auto_provision, 1);
    assert_int_equal(d->max_body_size, 64 * KiB);
    assert_int_equal(d->retry_after, 7);
    assert_int_equal(d->bcrypt_cost, 10);
    assert_int_equal(env->srv->statement_timeout_ms, 1500);
    assert_int_equal(env->srv->lock_timeout_ms, 250);
    assert_int_equal(env->srv->idle_tx_timeout_ms, 9000);
}

/* A rejected value leaves the member unset. */
static void test_directive_error_leaves_unset(void **state)
{
    it_cmd_env_t *env = it_cmd_env(IT_POOL(state));

    assert_non_null(it_cmd_run(env, "IssueTrackerPageSizeMax", "0"));
    assert_non_null(it_cmd_run(env, "IssueTrackerMaxBodySize", "x"));
    assert_non_null(it_cmd_run(env, "IssueTrackerUploadDir", "rel"));
    assert_non_null(it_cmd_run(env, "IssueTrackerAllowedTypes", "nope"));
    assert_non_null(it_cmd_run(env, "IssueTrackerLockTimeout", "0"));
    it_assert_unset(env->dir);
    assert_int_equal(env->srv->lock_timeout_ms, -1);
}

static const struct CMUnitTest tests[] = {
    IT_TEST(test_parse_size_table),
    IT_TEST(test_parse_size_message_quotes_value),
    IT_TEST(test_parse_int_table),
    IT_TEST(test_check_mime_table),
    IT_TEST(test_default_types_are_valid),
    IT_TEST(test_create_dir_unset),
    IT_TEST(test_merge_dir_child_wins_when_set),
    IT_TEST(test_merge_dir_parent_when_child_unset),
    IT_TEST(test_merge_dir_field_by_field),
    IT_TEST(test_merge_dir_off_overrides_on),
    IT_TEST(test_server_create_and_merge),
    IT_TEST(test_resolve_fills_defaults),
    IT_TEST(test_resolve_keeps_set_values),
    IT_TEST(test_directive_table_shape),
    IT_TEST(test_directive_values_table),
    IT_TEST(test_directives_set_their_member),
    IT_TEST(test_directive_error_leaves_unset),
};

IT_TEST_MAIN("config", tests)
