/*
 * it_res_users.c -- user accounts (DESIGN.md sections 4 and 6).
 *
 *   POST   /api/v1/users               admin: create (bcrypt via APR)
 *   GET    /api/v1/users               list: role, q, is_active; page/cursor/sort
 *   GET    /api/v1/users/me            the caller
 *   GET    /api/v1/users/{id}          one user (deleted: admins, include_deleted)
 *   PATCH  /api/v1/users/{id}          admin: anything; a user: own full_name,
 *                                      email, password (with current_password)
 *   DELETE /api/v1/users/{id}          admin, soft; not yourself, not the last admin
 *   POST   /api/v1/users/{id}/restore  admin
 *
 * Passwords and hashes never leave this file: no document built here has
 * password_hash in it, and no message quotes a body value.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_general.h>        /* apr_generate_random_bytes */
#include <apr_md5.h>            /* apr_bcrypt_encode, apr_password_validate */

#include "it_auth.h"
#include "it_config.h"
#include "it_db.h"
#include "it_dispatch.h"
#include "it_json.h"
#include "it_page.h"
#include "it_problem.h"
#include "it_router.h"
#include "it_version.h"

#define IT_USERS_PATH IT_API_BASE "/users"
#define IT_BCRYPT_SALT_LEN 16
#define IT_Q_MAX 200
/* Serialization failures and deadlocks of the admin-lock transaction. */
#define IT_USER_TX_TRIES 3

/* ---- the user document ------------------------------------------------ */

#define IT_USER_FIELDS \
    "'id', u.id, 'username', u.username, 'email', u.email," \
    " 'full_name', u.full_name, 'role', u.role, 'is_active', u.is_active," \
    " 'created_at', it_ts(u.created_at), 'updated_at', it_ts(u.updated_at)," \
    " 'version', u.version"

/* Deleted users are shown only to admins (include_deleted=true), with
 * is_deleted and deleted_at; live users do not carry those members. */
#define IT_USER_JSON \
    "(CASE WHEN u.is_deleted THEN json_build_object(" IT_USER_FIELDS "," \
    " 'is_deleted', true, 'deleted_at', it_ts(u.deleted_at))" \
    " ELSE json_build_object(" IT_USER_FIELDS ") END)::text"

static const char *const it_user_roles[] = {
    "reporter", "developer", "manager", "admin", NULL
};

/* The API takes lowercase usernames only, although the database (and
 * therefore scripts/user, auto-provisioning) accepts any case; uniqueness
 * is case-insensitive either way (users_username_lower_key). */
static const char *it_user_username_check(const char *v)
{
    static const char msg[] =
        "must match ^[a-z0-9][a-z0-9._-]{2,31}$ (lowercase letters, digits, "
        "'.', '_', '-'; starting with a letter or digit)";
    const char *p;

    if (!(apr_islower(*v) || apr_isdigit(*v))) {
        return msg;
    }
    for (p = v + 1; *p; p++) {
        if (!(apr_islower(*p) || apr_isdigit(*p) || *p == '.' || *p == '_'
              || *p == '-')) {
            return msg;
        }
    }
    return NULL;
}

/* bcrypt looks at the first 72 bytes only; 1024 bounds the work. */
static const it_field_t it_user_create_fields[] = {
    { "username",  IT_JT_STRING, IT_F_REQUIRED, 3, 32, NULL, it_user_username_check },
    { "email",     IT_JT_EMAIL,  IT_F_REQUIRED, 0, 254, NULL, NULL },
    { "full_name", IT_JT_STRING, IT_F_NULLABLE, 0, 200, NULL, NULL },
    { "password",  IT_JT_STRING, IT_F_REQUIRED, 12, 1024, NULL, NULL },
    { "role",      IT_JT_ENUM,   0, 0, 0, it_user_roles, NULL },
    { "is_active", IT_JT_BOOL,   0, 0, 0, NULL, NULL },
    { NULL, 0, 0, 0, 0, NULL, NULL }
};

static const it_field_t it_user_patch_fields[] = {
    { "username",         IT_JT_STRING, 0, 3, 32, NULL, it_user_username_check },
    { "email",            IT_JT_EMAIL,  0, 0, 254, NULL, NULL },
    { "full_name",        IT_JT_STRING, IT_F_NULLABLE, 0, 200, NULL, NULL },
    { "password",         IT_JT_STRING, 0, 12, 1024, NULL, NULL },
    { "current_password", IT_JT_STRING, 0, 1, 1024, NULL, NULL },
    { "role",             IT_JT_ENUM,   0, 0, 0, it_user_roles, NULL },
    { "is_active",        IT_JT_BOOL,   0, 0, 0, NULL, NULL },
    { "version",          IT_JT_INT,    0, 1, 2147483647LL, NULL, NULL },
    { NULL, 0, 0, 0, 0, NULL, NULL }
};

/* DELETE and restore: an optional body carries only the version. */
static const it_field_t it_user_version_fields[] = {
    { "version", IT_JT_INT, 0, 1, 2147483647LL, NULL, NULL },
    { NULL, 0, 0, 0, 0, NULL, NULL }
};

/* Only admins (users.update_role) may touch these, even on themselves. */
static const char *const it_user_admin_fields[] = {
    "username", "role", "is_active", NULL
};

/* Constraint name -> the field it concerns (SQLSTATE 23505 / 23514). */
typedef struct {
    const char *constraint;
    const char *field;
    const char *code;
    const char *message;
} it_user_constraint_t;

static const it_user_constraint_t it_user_constraints[] = {
    { "users_username_lower_key", "username", "duplicate",
      "is already taken (usernames are compared case-insensitively)" },
    { "users_email_lower_key",    "email",    "duplicate",
      "is already in use (addresses are compared case-insensitively)" },
    { "users_username_check",     "username", "format",
      "must match ^[a-z0-9][a-z0-9._-]{2,31}$" },
    { "users_email_check",        "email",    "format",
      "must be an email address" },
    { "users_full_name_check",    "full_name", "too_long",
      "must be at most 200 characters long" },
    { NULL, NULL, NULL, NULL }
};

/* ---- SQL ---------------------------------------------------------------- */

static const char it_user_sql_insert[] =
    "INSERT INTO users AS u (username, email, full_name, password_hash, role,"
    "                        is_active)"
    " VALUES ($1, $2, $3, $4, $5, $6::boolean)"
    " RETURNING " IT_USER_JSON ", u.id, u.version";

static const char it_user_sql_get[] =
    "SELECT " IT_USER_JSON ", u.version, u.is_deleted FROM users u"
    " WHERE u.id = $1::uuid";

static const char it_user_sql_password[] =
    "SELECT password_hash FROM users WHERE id = $1::uuid AND NOT is_deleted";

/* Every write that could remove an active admin (demote, deactivate,
 * delete) first locks all active admin rows, in id order, and counts the
 * others. Two admins demoting each other serialise here: the second sees
 * the first's commit (READ COMMITTED re-checks the locked rows) and finds
 * no other admin left. Ordered locks cannot deadlock with each other. */
static const char it_user_sql_lock_admins[] =
    "SELECT count(*) FILTER (WHERE a.id <> $1::uuid),"
    "       COALESCE(bool_or(a.id = $1::uuid), false)"
    "  FROM (SELECT id FROM users"
    "         WHERE role = 'admin' AND is_active AND NOT is_deleted"
    "         ORDER BY id FOR UPDATE) a";

/* $1 id, $2 expected version (NULL: none), $3 username, $4 email,
 * $5 whether full_name is given, $6 full_name, $7 password hash, $8 role,
 * $9 is_active; NULL = leave alone. The last condition makes setting
 * fields to their current values a no-op (no row, same version); a new
 * password always counts as a change (its salt is new). A password set
 * for an SSO-provisioned user makes it a local one (mod_authn_dbd only
 * checks auth_source = 'local'); its external_subject still maps tokens. */
static const char it_user_sql_update[] =
    "UPDATE users AS u SET"
    "   username = COALESCE($3::text, u.username),"
    "   email = COALESCE($4::text, u.email),"
    "   full_name = CASE WHEN $5::boolean THEN $6::text ELSE u.full_name END,"
    "   password_hash = COALESCE($7::text, u.password_hash),"
    "   auth_source = CASE WHEN $7::text IS NULL THEN u.auth_source"
    "                      ELSE 'local' END,"
    "   role = COALESCE($8::text, u.role),"
    "   is_active = COALESCE($9::boolean, u.is_active),"
    "   version = u.version + 1,"
    "   updated_at = now()"
    " WHERE u.id = $1::uuid AND NOT u.is_deleted"
    "   AND ($2::bigint IS NULL OR u.version = $2::bigint)"
    "   AND (   ($3::text IS NOT NULL AND $3::text <> u.username)"
    "        OR ($4::text IS NOT NULL AND $4::text <> u.email)"
    "        OR ($5::boolean AND $6::text IS DISTINCT FROM u.full_name)"
    "        OR $7::text IS NOT NULL"
    "        OR ($8::text IS NOT NULL AND $8::text <> u.role)"
    "        OR ($9::boolean IS NOT NULL AND $9::boolean <> u.is_active))"
    " RETURNING " IT_USER_JSON ", u.version, u.role, u.is_active, u.is_deleted";

static const char it_user_sql_delete[] =
    "UPDATE users AS u SET is_deleted = true, deleted_at = now(),"
    "   version = u.version + 1, updated_at = now()"
    " WHERE u.id = $1::uuid AND NOT u.is_deleted"
    "   AND ($2::bigint IS NULL OR u.version = $2::bigint)"
    " RETURNING NULL::text, u.version, u.role, u.is_active, u.is_deleted";

static const char it_user_sql_restore[] =
    "UPDATE users AS u SET is_deleted = false, deleted_at = NULL,"
    "   version = u.version + 1, updated_at = now()"
    " WHERE u.id = $1::uuid AND u.is_deleted"
    "   AND ($2::bigint IS NULL OR u.version = $2::bigint)"
    " RETURNING " IT_USER_JSON ", u.version";

/* List: $1 role, $2 ILIKE pattern, $3 is_active, $4 include_deleted;
 * the keyset predicate (if any) uses $5, $6. Sort columns are NOT NULL;
 * username and email sort case-insensitively, as they are unique. */
static const it_sort_t it_user_sorts[] = {
    { "created_at", "u.created_at",      "timestamptz" },
    { "updated_at", "u.updated_at",      "timestamptz" },
    { "username",   "lower(u.username)", "text" },
    { "email",      "lower(u.email)",    "text" },
    { NULL, NULL, NULL }
};

static const char it_user_sql_list_filter[] =
    " FROM users u"
    " WHERE ($1::text IS NULL OR u.role = $1::text)"
    "   AND ($2::text IS NULL OR u.username ILIKE $2::text"
    "        OR u.email ILIKE $2::text OR u.full_name ILIKE $2::text)"
    "   AND ($3::boolean IS NULL OR u.is_active = $3::boolean)"
    "   AND ($4::boolean OR NOT u.is_deleted)";

static const char it_user_sql_count[] = "SELECT count(*)";

static const char *const it_user_list_params[] = { "role", "q", "is_active", NULL };

/* ---- helpers ------------------------------------------------------------ */

static int it_user_is_self(const it_req_t *req, const char *id)
{
    return req->caller && req->caller->id && !strcasecmp(req->caller->id, id);
}

/* 409 naming the field for unique violations, 422 for check violations;
 * everything else as the generic database problem. */
static int it_user_db_problem(it_resp_t *resp, const it_db_t *db)
{
    const it_user_constraint_t *c;

    if (db && db->err.constraint && (db->err.status == 409 || db->err.status == 422)) {
        for (c = it_user_constraints; c->constraint; c++) {
            if (strcmp(c->constraint, db->err.constraint)) {
                continue;
            }
            if (db->err.status == 409) {
                it_problem(resp, 409, "conflict",
                           "A user with this %s already exists", c->field);
                it_problem_set(resp, "field", json_string(c->field));
                it_problem_set(resp, "errors",
                               it_problem_error_add(NULL, c->field, c->code,
                                                    c->message));
                return 409;
            }
            return it_problem_validation(resp, it_problem_error_add(
                                             NULL, c->field, c->code, c->message));
        }
    }
    return it_problem_db(resp, db);
}

static int it_user_not_found(it_resp_t *resp)
{
    return it_problem(resp, 404, "not_found", "There is no such user");
}

/* A bcrypt hash ($2y$) of pw at the configured cost, or NULL. */
static const char *it_user_hash(it_req_t *req, const char *pw)
{
    unsigned char salt[IT_BCRYPT_SALT_LEN];
    char *out = apr_palloc(req->pool, 64);
    int cost = req->cfg ? req->cfg->bcrypt_cost : -1;

    if (cost < 4 || cost > 31) {
        cost = IT_DEFAULT_BCRYPT_COST;
    }
    if (apr_generate_random_bytes(salt, sizeof(salt)) != APR_SUCCESS
        || apr_bcrypt_encode(pw, (unsigned)cost, salt, sizeof(salt), out, 64)
           != APR_SUCCESS) {
        return NULL;
    }
    return out;
}

/* Parses an optional JSON body (only `version`) and the precondition. */
static int it_user_version_only(it_req_t *req, it_resp_t *resp, int required,
                                it_precondition_t *pre)
{
    json_t *body = NULL;
    int rc;

    /* A Content-Type with an empty body (some clients send one on every
     * request) is no body; a chunked body is read. */
    if (req->content_length > 0 || (req->content_length < 0 && req->content_type)) {
        rc = it_json_body(req, resp, it_user_version_fields, &body);
        if (rc) {
            return rc;
        }
    }
    return it_version_precondition(req, resp, body, required, pre);
}

static int it_user_precondition_required(const it_req_t *req)
{
    return !(req->cfg && req->cfg->require_version == 0);
}

/* Rejects every query parameter except those in `allowed` (NULL ends). */
static int it_user_query_only(it_req_t *req, const char *const *allowed,
                              json_t **errors)
{
    const apr_array_header_t *arr = apr_table_elts(req->query);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    int i, bad = 0;

    for (i = 0; i < arr->nelts; i++) {
        const char *const *a;
        for (a = allowed; *a && strcmp(*a, e[i].key); a++)
            ;
        if (!*a) {
            *errors = it_problem_error_add(*errors, e[i].key, "unknown_parameter",
                                           "is not a known parameter");
            bad = 1;
        }
    }
    return bad ? -1 : 0;
}


/* After a write matched no row: 404 (missing or deleted), the version
 * conflict (412 / 409), or 0 with *cur set (live, version as expected). */
static int it_user_explain_miss(it_resp_t *resp, it_db_t *db, const char *id,
                                const it_precondition_t *pre, it_dbres_t **cur)
{
    const char *params[1];
    long version;

    params[0] = id;
    if (it_db_exec(db, cur, it_user_sql_get, 1, params) != 0) {
        return it_problem_db(resp, db);
    }
    if ((*cur)->nrows == 0 || !strcmp(it_dbres_get(*cur, 0, 2), "t")) {
        return it_user_not_found(resp);
    }
    version = atol(it_dbres_get(*cur, 0, 1));
    if (pre->expected >= 0 && version != pre->expected) {
        return it_version_conflict(resp, pre, version);
    }
    return 0;
}

/* ---- the write that may remove an admin ------------------------------- */

typedef struct {
    const char *id;
    const char *sql;                 /* RETURNING doc, version, role,
                                        is_active, is_deleted */
    const char *const *params;
    int nparams;
    it_dbres_t *res;
    int last_admin;                  /* 1: refused, rolled back */
} it_user_write_t;

static int it_user_write_tx(it_db_t *db, void *ctx)
{
    it_user_write_t *w = ctx;
    it_dbres_t *lock = NULL;
    const char *params[1];
    int was_admin, others;

    w->last_admin = 0;
    params[0] = w->id;
    if (it_db_exec(db, &lock, it_user_sql_lock_admins, 1, params) != 0
        || it_db_exec(db, &w->res, w->sql, w->nparams, w->params) != 0) {
        return -1;
    }
    others = atoi(it_dbres_get(lock, 0, 0));
    was_admin = !strcmp(it_dbres_get(lock, 0, 1), "t");
    if (w->res->nrows == 1 && was_admin && others == 0
        && !(!strcmp(it_dbres_get(w->res, 0, 2), "admin")
             && !strcmp(it_dbres_get(w->res, 0, 3), "t")
             && !strcmp(it_dbres_get(w->res, 0, 4), "f"))) {
        w->last_admin = 1;
        return 1;
    }
    return 0;
}

/* Runs w->sql, inside the admin-lock transaction when `guard` is set.
 * Returns 0 (w->res set), or a problem status with resp filled. */
static int it_user_write(it_resp_t *resp, it_db_t *db, it_user_write_t *w,
                         int guard)
{
    int rc;

    if (guard) {
        rc = it_db_tx(db, it_user_write_tx, w, IT_USER_TX_TRIES);
    }
    else {
        rc = it_db_exec(db, &w->res, w->sql, w->nparams, w->params);
    }
    if (rc == -1) {
        return it_user_db_problem(resp, db);
    }
    if (w->last_admin) {
        return it_problem(resp, 409, "last_admin",
                          "This is the last active admin: promote another "
                          "user to admin first");
    }
    return 0;
}

/* ---- handlers ----------------------------------------------------------- */

static int it_user_create(it_req_t *req, it_resp_t *resp)
{
    json_t *body, *v;
    it_db_t *db;
    it_dbres_t *res = NULL;
    const char *params[6], *hash, *id;
    int rc;

    rc = it_json_body(req, resp, it_user_create_fields, &body);
    if (rc) {
        return rc;
    }
    db = it_req_db(req);
    if (!db) {
        return it_problem_db(resp, NULL);
    }
    hash = it_user_hash(req, json_string_value(json_object_get(body, "password")));
    if (!hash) {
        return it_problem(resp, 500, "password_hash_failed",
                          "The password could not be hashed");
    }
    v = json_object_get(body, "full_name");
    params[0] = json_string_value(json_object_get(body, "username"));
    params[1] = json_string_value(json_object_get(body, "email"));
    params[2] = json_is_string(v) ? json_string_value(v) : NULL;
    params[3] = hash;
    v = json_object_get(body, "role");
    params[4] = v ? json_string_value(v) : "reporter";
    v = json_object_get(body, "is_active");
    params[5] = (!v || json_is_true(v)) ? "true" : "false";
    if (it_db_exec(db, &res, it_user_sql_insert, 6, params) != 0) {
        return it_user_db_problem(resp, db);
    }
    id = it_dbres_get(res, 0, 1);
    apr_table_setn(resp->headers, "Location",
                   apr_pstrcat(req->pool, IT_USERS_PATH "/", id, NULL));
    return it_version_respond(req, resp, 201, it_dbres_get(res, 0, 0),
                              it_dbres_get(res, 0, 2));
}

static int it_user_list(it_req_t *req, it_resp_t *resp)
{
    json_t *errors = NULL;
    it_page_t pg;
    it_db_t *db;
    it_dbres_t *res = NULL;
    const char *params[6] = { NULL, NULL, NULL, NULL, NULL, NULL };
    const char *q, *sql;
    int is_active = -1, rc, n = 4;
    long total = -1;

    it_query_known(req, it_user_list_params, &errors);
    rc = it_page_parse(req, resp, it_user_sorts, "created_at", &pg, &errors);
    if (rc) {
        return rc;
    }
    it_query_enum(req, "role", it_user_roles, &params[0], &errors);
    q = apr_table_get(req->query, "q");
    if (q && it_utf8_len(q) > IT_Q_MAX) {
        errors = it_problem_error_add(errors, "q", "too_long",
                                      "must be at most 200 characters long");
    }
    else if (q && *q) {
        params[1] = it_query_like_contains(req->pool, q);
    }
    if (it_query_bool(req, "is_active", &is_active, &errors) > 0) {
        params[2] = is_active ? "true" : "false";
    }
    if (errors) {
        return it_problem_validation(resp, errors);
    }
    if (pg.include_deleted && (rc = it_auth_require(req, resp, "deleted.read", 0))) {
        return rc;
    }
    params[3] = pg.include_deleted ? "true" : "false";
    if (pg.after_id) {
        params[4] = pg.after_key;
        params[5] = pg.after_id;
        n = 6;
    }
    db = it_req_db(req);
    if (!db) {
        return it_problem_db(resp, NULL);
    }
    /* Static fragments only: the sort picks a row of it_user_sorts. */
    sql = apr_pstrcat(req->pool, "SELECT " IT_USER_JSON ", (", pg.sort->column,
                      ")::text, u.id", it_user_sql_list_filter, " AND ",
                      it_page_keyset_sql(req->pool, &pg, "u.id", 5), " ",
                      it_page_order_sql(req->pool, &pg, "u.id"), " ",
                      it_page_limit_sql(req->pool, &pg), NULL);
    if (it_db_exec(db, &res, sql, n, params) != 0) {
        return it_problem_db(resp, db);
    }
    if (pg.include_total) {
        it_dbres_t *cnt = NULL;
        sql = apr_pstrcat(req->pool, it_user_sql_count, it_user_sql_list_filter, NULL);
        if (it_db_exec(db, &cnt, sql, 4, params) != 0) {
            return it_problem_db(resp, db);
        }
        total = atol(it_dbres_get(cnt, 0, 0));
    }
    return it_page_respond_res(req, resp, &pg, res, 0, 2, 1, total);
}

/* Answers with one user; deleted ones only for show_deleted. */
static int it_user_respond_one(it_req_t *req, it_resp_t *resp, const char *id,
                               int show_deleted)
{
    it_db_t *db = it_req_db(req);
    it_dbres_t *res = NULL;
    const char *params[1];

    if (!db) {
        return it_problem_db(resp, NULL);
    }
    params[0] = id;
    if (it_db_exec(db, &res, it_user_sql_get, 1, params) != 0) {
        return it_problem_db(resp, db);
    }
    if (res->nrows == 0 || (!show_deleted && !strcmp(it_dbres_get(res, 0, 2), "t"))) {
        return it_user_not_found(resp);
    }
    return it_version_respond(req, resp, 200, it_dbres_get(res, 0, 0),
                              it_dbres_get(res, 0, 1));
}

static int it_user_get(it_req_t *req, it_resp_t *resp)
{
    static const char *const allowed[] = { "include_deleted", NULL };
    json_t *errors = NULL;
    int include_deleted = 0, rc;

    it_user_query_only(req, allowed, &errors);
    it_query_bool(req, "include_deleted", &include_deleted, &errors);
    if (errors) {
        return it_problem_validation(resp, errors);
    }
    if (include_deleted && (rc = it_auth_require(req, resp, "deleted.read", 0))) {
        return rc;
    }
    return it_user_respond_one(req, resp, req->params[0], include_deleted);
}

static int it_user_me(it_req_t *req, it_resp_t *resp)
{
    static const char *const allowed[] = { NULL };
    json_t *errors = NULL;

    if (it_user_query_only(req, allowed, &errors) != 0) {
        return it_problem_validation(resp, errors);
    }
    return it_user_respond_one(req, resp, req->caller->id, 0);
}

/* The caller proves they know the password they are replacing. */
static int it_user_check_current_password(it_resp_t *resp, it_db_t *db,
                                          const char *id, const char *given)
{
    it_dbres_t *res = NULL;
    const char *params[1];

    params[0] = id;
    if (it_db_exec(db, &res, it_user_sql_password, 1, params) != 0) {
        return it_problem_db(resp, db);
    }
    if (res->nrows == 0) {
        return it_user_not_found(resp);
    }
    if (apr_password_validate(given, it_dbres_get(res, 0, 0)) != APR_SUCCESS) {
        /* 422, not 401/403: the credentials of the request are fine, a
         * field of the body is wrong (and clients show it next to it). */
        return it_problem_validation(resp, it_problem_error_add(
            NULL, "current_password", "mismatch",
            "does not match your current password"));
    }
    return 0;
}

static int it_user_patch(it_req_t *req, it_resp_t *resp)
{
    const char *id = req->params[0];
    int self = it_user_is_self(req, id);
    json_t *body, *v;
    it_precondition_t pre;
    it_db_t *db;
    it_user_write_t w;
    it_dbres_t *cur = NULL;
    const char *params[9], *password, *current, *touched = NULL;
    const char *const *f;
    int rc, guard;

    if ((rc = it_auth_require(req, resp, "users.update", self))) {
        return rc;
    }
    if ((rc = it_json_body(req, resp, it_user_patch_fields, &body))) {
        return rc;
    }
    for (f = it_user_admin_fields; *f; f++) {
        if (json_object_get(body, *f)) {
            touched = touched ? apr_pstrcat(req->pool, touched, ", ", *f, NULL) : *f;
        }
    }
    if (touched && !it_auth_allowed(req->caller, "users.update_role", 0)) {
        return it_problem(resp, 403, "forbidden",
                          "Only an admin may change %s", touched);
    }
    password = json_string_value(json_object_get(body, "password"));
    current = json_string_value(json_object_get(body, "current_password"));
    if (current && !password) {
        return it_problem_validation(resp, it_problem_error_add(
            NULL, "current_password", "unexpected",
            "is only accepted together with password"));
    }
    if (password && self && !current) {
        return it_problem_validation(resp, it_problem_error_add(
            NULL, "current_password", "required",
            "is required to change your own password"));
    }
    if ((rc = it_version_precondition(req, resp, body,
                                      it_user_precondition_required(req), &pre))) {
        return rc;
    }
    db = it_req_db(req);
    if (!db) {
        return it_problem_db(resp, NULL);
    }
    if (current && (rc = it_user_check_current_password(resp, db, id, current))) {
        return rc;
    }

    params[0] = id;
    params[1] = it_version_param(req->pool, &pre);
    params[2] = json_string_value(json_object_get(body, "username"));
    params[3] = json_string_value(json_object_get(body, "email"));
    v = json_object_get(body, "full_name");
    params[4] = v ? "true" : "false";
    params[5] = json_is_string(v) ? json_string_value(v) : NULL;
    params[6] = NULL;
    if (password && !(params[6] = it_user_hash(req, password))) {
        return it_problem(resp, 500, "password_hash_failed",
                          "The password could not be hashed");
    }
    params[7] = json_string_value(json_object_get(body, "role"));
    v = json_object_get(body, "is_active");
    params[8] = v ? (json_is_true(v) ? "true" : "false") : NULL;

    /* Only a demotion or a deactivation can remove the last admin. */
    guard = (params[7] && strcmp(params[7], "admin"))
            || (params[8] && !strcmp(params[8], "false"));
    memset(&w, 0, sizeof(w));
    w.id = id;
    w.sql = it_user_sql_update;
    w.params = params;
    w.nparams = 9;
    if ((rc = it_user_write(resp, db, &w, guard))) {
        return rc;
    }
    if (w.res->nrows == 1) {
        return it_version_respond(req, resp, 200, it_dbres_get(w.res, 0, 0),
                                  it_dbres_get(w.res, 0, 1));
    }
    /* No row: missing, stale, or nothing to change (same version). */
    if ((rc = it_user_explain_miss(resp, db, id, &pre, &cur))) {
        return rc;
    }
    return it_version_respond(req, resp, 200, it_dbres_get(cur, 0, 0),
                              it_dbres_get(cur, 0, 1));
}

static int it_user_delete(it_req_t *req, it_resp_t *resp)
{
    const char *id = req->params[0];
    it_precondition_t pre;
    it_db_t *db;
    it_user_write_t w;
    it_dbres_t *cur = NULL;
    const char *params[2];
    int rc;

    if (it_user_is_self(req, id)) {
        return it_problem(resp, 409, "cannot_delete_self",
                          "You cannot delete your own account");
    }
    if ((rc = it_user_version_only(req, resp, it_user_precondition_required(req),
                                   &pre))) {
        return rc;
    }
    db = it_req_db(req);
    if (!db) {
        return it_problem_db(resp, NULL);
    }
    params[0] = id;
    params[1] = it_version_param(req->pool, &pre);
    memset(&w, 0, sizeof(w));
    w.id = id;
    w.sql = it_user_sql_delete;
    w.params = params;
    w.nparams = 2;
    if ((rc = it_user_write(resp, db, &w, 1))) {
        return rc;
    }
    if (w.res->nrows == 0) {
        if ((rc = it_user_explain_miss(resp, db, id, &pre, &cur))) {
            return rc;
        }
        /* restored and deleted again in between: report what we saw */
        return it_user_not_found(resp);
    }
    resp->status = 204;
    return 204;
}

static int it_user_restore(it_req_t *req, it_resp_t *resp)
{
    const char *id = req->params[0];
    it_precondition_t pre;
    it_db_t *db;
    it_dbres_t *res = NULL;
    const char *params[2];
    long version;
    int rc;

    /* Restore needs no precondition; a given one is honoured. */
    if ((rc = it_user_version_only(req, resp, 0, &pre))) {
        return rc;
    }
    db = it_req_db(req);
    if (!db) {
        return it_problem_db(resp, NULL);
    }
    params[0] = id;
    params[1] = it_version_param(req->pool, &pre);
    if (it_db_exec(db, &res, it_user_sql_restore, 2, params) != 0) {
        return it_user_db_problem(resp, db);
    }
    if (res->nrows == 1) {
        return it_version_respond(req, resp, 200, it_dbres_get(res, 0, 0),
                                  it_dbres_get(res, 0, 1));
    }
    if (it_db_exec(db, &res, it_user_sql_get, 1, params) != 0) {
        return it_problem_db(resp, db);
    }
    if (res->nrows == 0) {
        return it_user_not_found(resp);
    }
    if (strcmp(it_dbres_get(res, 0, 2), "t")) {
        return it_problem(resp, 409, "not_deleted", "This user is not deleted");
    }
    version = atol(it_dbres_get(res, 0, 1));
    if (pre.expected < 0) {
        /* deleted, restored and deleted again between the two statements */
        return it_problem(resp, 409, "conflict",
                          "The user changed while it was being restored; retry");
    }
    return it_version_conflict(resp, &pre, version);
}

/* /users/me is a literal and {id} matches only UUIDs, so they cannot
 * clash; `me` comes first all the same. */
static const it_route_t it_user_routes[] = {
    { "POST",   IT_USERS_PATH,                it_user_create,  "users.create",  0 },
    { "GET",    IT_USERS_PATH,                it_user_list,    "users.list",    0 },
    { "GET",    IT_USERS_PATH "/me",          it_user_me,      "users.me",      0 },
    { "GET",    IT_USERS_PATH "/{id}",        it_user_get,     "users.read",    0 },
    { "PATCH",  IT_USERS_PATH "/{id}",        it_user_patch,   "users.update",  0 },
    { "DELETE", IT_USERS_PATH "/{id}",        it_user_delete,  "users.delete",  0 },
    { "POST",   IT_USERS_PATH "/{id}/restore", it_user_restore, "users.restore", 0 },
    { NULL, NULL, NULL, NULL, 0 }
};

const it_resource_t it_res_users = { "users", it_user_routes };
