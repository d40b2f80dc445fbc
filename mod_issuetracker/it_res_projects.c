/*
 * it_res_projects.c -- projects: the containers of issues, each with a
 * unique, immutable key (the PROJ of PROJ-42) and an owner.
 *
 * The dispatcher has already checked that the caller's role may attempt
 * the route's action (it_permissions, projects.*); handlers load the row
 * and decide ownership ("own" = the caller is the project's owner_id).
 * Every write is one conditional UPDATE (DESIGN.md section 4): when it
 * matches no row, a second look at the row says why (404, 403, 412/409).
 * Decisions DESIGN.md leaves open are documented under the Projects
 * operations of docs/openapi.yaml.
 */
#include <string.h>
#include <stdlib.h>
#include <limits.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "it_router.h"
#include "it_problem.h"
#include "it_json.h"
#include "it_db.h"
#include "it_dispatch.h"
#include "it_auth.h"
#include "it_config.h"
#include "it_version.h"
#include "it_page.h"

/* bytes, as projects_description_check (the validator counts characters) */
#define IT_PROJECT_DESCRIPTION_MAX 65536

#define IT_PROJECT_FIELDS \
    "'id', p.id, 'key', p.key, 'name', p.name, 'description', p.description," \
    " 'owner_id', p.owner_id, 'created_at', it_ts(p.created_at)," \
    " 'updated_at', it_ts(p.updated_at), 'version', p.version"

/* The resource document. Deleted rows, which only admins ever see, say so. */
#define IT_PROJECT_DOC \
    "(CASE WHEN p.is_deleted THEN json_build_object(" IT_PROJECT_FIELDS \
    ", 'is_deleted', true, 'deleted_at', it_ts(p.deleted_at))" \
    " ELSE json_build_object(" IT_PROJECT_FIELDS ") END)::text"

/* ---- shared helpers ---------------------------------------------------- */

static const char *it_project_key_check(const char *v)
{
    size_t i;

    if (!(v[0] >= 'A' && v[0] <= 'Z')) {
        goto bad;
    }
    for (i = 1; v[i]; i++) {
        if (!((v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= '0' && v[i] <= '9'))) {
            goto bad;
        }
    }
    return NULL;
bad:
    return "must be an uppercase letter followed by 1-9 uppercase letters or "
           "digits (^[A-Z][A-Z0-9]{1,9}$)";
}

static const char *it_project_name_check(const char *v)
{
    for (; *v; v++) {
        if (!apr_isspace(*v)) {
            return NULL;
        }
    }
    return "must not be blank";
}

/* The field table counts characters; the column limit is in bytes. Runs
 * once the table's checks passed. */
static int it_project_check_bytes(it_resp_t *resp, json_t *body)
{
    json_t *d = json_object_get(body, "description");

    if (json_is_string(d) && json_string_length(d) > IT_PROJECT_DESCRIPTION_MAX) {
        return it_problem_validation(resp, it_problem_error_add(NULL,
                   "description", "too_long",
                   "must be at most 65536 bytes of UTF-8"));
    }
    return 0;
}

static const char *it_json_str(json_t *body, const char *name)
{
    return json_string_value(json_object_get(body, name));   /* NULL for null */
}

/* Unique key -> 409 naming the field (`field` and `errors`, as users do);
 * everything else as the core maps it. */
static int it_project_db_error(it_resp_t *resp, it_db_t *db, const char *key)
{
    if (db->err.status == 409 && db->err.constraint
        && !strcmp(db->err.constraint, "projects_key_key")) {
        it_problem(resp, 409, "conflict",
                   "A project with key %s already exists (keys stay taken "
                   "after a delete: issue keys are made from them)",
                   key ? key : "");
        it_problem_set(resp, "field", json_string("key"));
        it_problem_set(resp, "errors", it_problem_error_add(NULL, "key",
                       "duplicate", "is already taken (also by deleted projects)"));
        return 409;
    }
    return it_problem_db(resp, db);
}

static int it_project_not_found(it_resp_t *resp, const char *id)
{
    return it_problem(resp, 404, "not_found", "No project with id %s", id);
}

static int it_project_include_deleted(it_req_t *req, it_resp_t *resp,
                                      int include_deleted)
{
    if (include_deleted && !it_auth_allowed(req->caller, "deleted.read", 0)) {
        return it_problem(resp, 403, "forbidden",
                          "include_deleted=true is for admins only");
    }
    return 0;
}

static const char it_sql_project_state[] =
    "SELECT p.version, p.is_deleted, p.owner_id FROM projects p"
    " WHERE p.id = $1::uuid";

/* A conditional write matched no row: find out why. `owner` is the owner
 * the write required (NULL: any), `want_deleted` the is_deleted it
 * required. */
static int it_project_write_failed(it_req_t *req, it_resp_t *resp, it_db_t *db,
                                   const it_precondition_t *pre,
                                   const char *owner, int want_deleted)
{
    const char *id = req->params[0];
    it_dbres_t *res;
    const char *version;

    if (it_db_exec(db, &res, it_sql_project_state, 1, &id) != 0) {
        return it_problem_db(resp, db);
    }
    if (res->nrows == 0 || (!want_deleted && !strcmp(it_dbres_get(res, 0, 1), "t"))) {
        return it_project_not_found(resp, id);
    }
    if (want_deleted && strcmp(it_dbres_get(res, 0, 1), "t")) {
        return it_problem(resp, 409, "not_deleted",
                          "Project %s is not deleted; there is nothing to restore",
                          id);
    }
    if (owner && strcasecmp(owner, it_dbres_get(res, 0, 2))) {
        return it_problem(resp, 403, "forbidden",
                          "The project changed owner meanwhile; only its owner "
                          "or an admin may change it");
    }
    version = it_dbres_get(res, 0, 0);
    if (pre->expected < 0) {
        /* cannot happen without a version condition; never guess a 200 */
        return it_problem(resp, 409, "conflict",
                          "The project changed while this request ran; retry");
    }
    it_version_conflict(resp, pre, atol(version));
    it_version_etag(resp, version);
    return resp->status;
}

/* DELETE may name its version in a JSON body instead of If-Match. */
static int it_project_optional_body(it_req_t *req, it_resp_t *resp,
                                    const it_field_t *spec, json_t **body)
{
    *body = NULL;
    if (req->content_length > 0
        || (req->headers && apr_table_get(req->headers, "Transfer-Encoding"))) {
        return it_json_body(req, resp, spec, body);
    }
    return 0;
}

/* ---- POST /projects ---------------------------------------------------- */

static const it_field_t it_project_create_spec[] = {
    { "key",         IT_JT_STRING, IT_F_REQUIRED, 2, 10, NULL, it_project_key_check },
    { "name",        IT_JT_STRING, IT_F_REQUIRED, 1, 200, NULL, it_project_name_check },
    { "description", IT_JT_STRING, IT_F_NULLABLE, 0, IT_PROJECT_DESCRIPTION_MAX, NULL, NULL },
    { "owner_id",    IT_JT_UUID,   0, 0, 0, NULL, NULL },
    { NULL,          IT_JT_STRING, 0, 0, 0, NULL, NULL }
};

/* The owner must be an active, non-deleted user: no row means it is not. */
static const char it_sql_project_insert[] =
    "INSERT INTO projects AS p (key, name, description, owner_id)"
    " SELECT $1, $2, $3, u.id FROM users u"
    "  WHERE u.id = $4::uuid AND u.is_active AND NOT u.is_deleted"
    " RETURNING " IT_PROJECT_DOC ", p.version, p.id";

static int it_projects_create(it_req_t *req, it_resp_t *resp)
{
    json_t *body;
    const char *params[4];
    it_db_t *db;
    it_dbres_t *res;
    int rc;

    if ((rc = it_json_body(req, resp, it_project_create_spec, &body)) != 0
        || (rc = it_project_check_bytes(resp, body)) != 0) {
        return rc;
    }
    params[0] = it_json_str(body, "key");
    params[1] = it_json_str(body, "name");
    params[2] = it_json_str(body, "description");
    params[3] = it_json_str(body, "owner_id");
    if (!params[3]) {
        params[3] = req->caller->id;
    }
    else if (strcasecmp(params[3], req->caller->id)
             && req->caller->role < IT_ROLE_ADMIN) {
        /* a manager creates projects for themselves only */
        return it_problem(resp, 403, "forbidden",
                          "Only an admin may create a project owned by someone else");
    }
    if (!(db = it_req_db(req))) {
        return it_problem_db(resp, NULL);
    }
    if (it_db_exec(db, &res, it_sql_project_insert, 4, params) != 0) {
        return it_project_db_error(resp, db, params[0]);
    }
    if (res->nrows == 0) {
        return it_problem_validation(resp, it_problem_error_add(NULL,
                   "owner_id", "not_found", "must be an active user"));
    }
    apr_table_setn(resp->headers, "Location",
                   apr_pstrcat(req->pool, IT_API_BASE "/projects/",
                               it_dbres_get(res, 0, 2), NULL));
    return it_version_respond(req, resp, 201, it_dbres_get(res, 0, 0),
                              it_dbres_get(res, 0, 1));
}

/* ---- GET /projects ----------------------------------------------------- */

/* Every column here is NOT NULL (a keyset condition over NULLs breaks). */
static const it_sort_t it_project_sorts[] = {
    { "key",        "p.key",        "text" },
    { "name",       "p.name",       "text" },
    { "created_at", "p.created_at", "timestamptz" },
    { "updated_at", "p.updated_at", "timestamptz" },
    { NULL, NULL, NULL }
};

static const char *const it_project_list_params[] = { "owner_id", "q", NULL };

#define IT_PROJECT_Q_MAX 200

/* $1 owner_id, $2 ILIKE pattern, $3 include_deleted; NULL = no filter.
 * Unnamed statements are planned with their values, so the IS NULL arms
 * fold away. */
#define IT_PROJECT_LIST_FROM \
    " FROM projects p" \
    " WHERE ($1::uuid IS NULL OR p.owner_id = $1::uuid)" \
    "   AND ($2::text IS NULL OR p.key ILIKE $2::text ESCAPE '\\'" \
    "        OR p.name ILIKE $2::text ESCAPE '\\')" \
    "   AND ($3::boolean OR NOT p.is_deleted)"

static const char it_sql_project_count[] = "SELECT count(*)" IT_PROJECT_LIST_FROM;


static int it_projects_list(it_req_t *req, it_resp_t *resp)
{
    json_t *errors = NULL;
    it_page_t pg;
    const char *owner = NULL, *q, *params[5], *sql;
    it_db_t *db;
    it_dbres_t *res;
    long total = -1;
    int rc, n = 3;

    it_query_known(req, it_project_list_params, &errors);
    if ((rc = it_page_parse(req, resp, it_project_sorts, "created_at", &pg,
                            &errors)) != 0) {
        json_decref(errors);
        return rc;
    }
    it_query_uuid(req, "owner_id", &owner, &errors);
    q = apr_table_get(req->query, "q");
    if (q && !*q) {
        q = NULL;                    /* an empty search box filters nothing */
    }
    if (q && it_utf8_len(q) > IT_PROJECT_Q_MAX) {
        errors = it_problem_error_add(errors, "q", "too_long",
                                      "must be at most 200 characters long");
    }
    if (errors) {
        return it_problem_validation(resp, errors);
    }
    if ((rc = it_project_include_deleted(req, resp, pg.include_deleted)) != 0) {
        return rc;
    }
    params[0] = owner;
    params[1] = q ? it_query_like_contains(req->pool, q) : NULL;
    params[2] = pg.include_deleted ? "true" : "false";
    if (pg.after_id) {
        params[n++] = pg.after_key;
        params[n++] = pg.after_id;
    }
    /* only static fragments, chosen by the validated sort and cursor */
    sql = apr_pstrcat(req->pool, "SELECT " IT_PROJECT_DOC ", p.id, (",
                      pg.sort->column, ")::text" IT_PROJECT_LIST_FROM " AND ",
                      it_page_keyset_sql(req->pool, &pg, "p.id", 4), " ",
                      it_page_order_sql(req->pool, &pg, "p.id"), " ",
                      it_page_limit_sql(req->pool, &pg), NULL);
    if (!(db = it_req_db(req))) {
        return it_problem_db(resp, NULL);
    }
    if (it_db_exec(db, &res, sql, n, params) != 0) {
        return it_problem_db(resp, db);
    }
    if (pg.include_total) {
        it_dbres_t *cnt;
        if (it_db_exec(db, &cnt, it_sql_project_count, 3, params) != 0) {
            return it_problem_db(resp, db);
        }
        total = atol(it_dbres_get(cnt, 0, 0));
    }
    return it_page_respond_res(req, resp, &pg, res, 0, 1, 2, total);
}

/* ---- GET /projects/{id} ------------------------------------------------ */

static const char it_sql_project_get[] =
    "SELECT " IT_PROJECT_DOC ", p.version, p.is_deleted FROM projects p"
    " WHERE p.id = $1::uuid";

static int it_projects_read(it_req_t *req, it_resp_t *resp)
{
    const char *id = req->params[0];
    const apr_array_header_t *arr = apr_table_elts(req->query);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    json_t *errors = NULL;
    int include_deleted = 0, rc, i;
    it_db_t *db;
    it_dbres_t *res;

    for (i = 0; i < arr->nelts; i++) {
        if (strcmp(e[i].key, "include_deleted")) {
            errors = it_problem_error_add(errors, e[i].key, "unknown_parameter",
                                          "is not a known parameter");
        }
    }
    it_query_bool(req, "include_deleted", &include_deleted, &errors);
    if (errors) {
        return it_problem_validation(resp, errors);
    }
    if ((rc = it_project_include_deleted(req, resp, include_deleted)) != 0) {
        return rc;
    }
    if (!(db = it_req_db(req))) {
        return it_problem_db(resp, NULL);
    }
    if (it_db_exec(db, &res, it_sql_project_get, 1, &id) != 0) {
        return it_problem_db(resp, db);
    }
    if (res->nrows == 0 || (!include_deleted && !strcmp(it_dbres_get(res, 0, 2), "t"))) {
        return it_project_not_found(resp, id);
    }
    return it_version_respond(req, resp, 200, it_dbres_get(res, 0, 0),
                              it_dbres_get(res, 0, 1));
}

/* ---- PATCH /projects/{id} ---------------------------------------------- */

/* `key` is accepted only with its current value: issue keys (PROJ-42) are
 * made from it, so it never changes. `version` is taken out of the body by
 * it_version_precondition. */
static const it_field_t it_project_update_spec[] = {
    { "key",         IT_JT_STRING, 0, 0, 0, NULL, NULL },
    { "name",        IT_JT_STRING, 0, 1, 200, NULL, it_project_name_check },
    { "description", IT_JT_STRING, IT_F_NULLABLE, 0, IT_PROJECT_DESCRIPTION_MAX, NULL, NULL },
    { "owner_id",    IT_JT_UUID,   0, 0, 0, NULL, NULL },
    { "version",     IT_JT_INT,    0, 1, INT_MAX, NULL, NULL },
    { NULL,          IT_JT_STRING, 0, 0, 0, NULL, NULL }
};

static const char it_sql_project_current[] =
    "SELECT p.key, p.owner_id FROM projects p"
    " WHERE p.id = $1::uuid AND NOT p.is_deleted";

static const char it_sql_project_new_owner[] =
    "SELECT u.role FROM users u"
    " WHERE u.id = $1::uuid AND u.is_active AND NOT u.is_deleted";

/* $2 name, $3 whether description is given, $4 description, $5 owner_id
 * (NULL: keep). The version moves only when a value really changes. */
#define IT_PROJECT_CHANGED \
    "(($2::text IS NOT NULL AND $2::text IS DISTINCT FROM p.name)" \
    " OR ($3::boolean AND $4::text IS DISTINCT FROM p.description)" \
    " OR ($5::uuid IS NOT NULL AND $5::uuid IS DISTINCT FROM p.owner_id))"

/* $6 expected version, $7 required owner (NULL: any). Concurrent writers
 * with the same version queue on the row lock; PostgreSQL re-checks the
 * WHERE on the row the winner left, so exactly one of them matches. */
static const char it_sql_project_update[] =
    "UPDATE projects p SET"
    " name = COALESCE($2::text, p.name),"
    " description = CASE WHEN $3::boolean THEN $4::text ELSE p.description END,"
    " owner_id = COALESCE($5::uuid, p.owner_id),"
    " version = p.version + CASE WHEN " IT_PROJECT_CHANGED " THEN 1 ELSE 0 END,"
    " updated_at = CASE WHEN " IT_PROJECT_CHANGED " THEN now() ELSE p.updated_at END"
    " WHERE p.id = $1::uuid AND NOT p.is_deleted"
    "   AND ($6::int IS NULL OR p.version = $6::int)"
    "   AND ($7::uuid IS NULL OR p.owner_id = $7::uuid)"
    " RETURNING " IT_PROJECT_DOC ", p.version";

/* Who may become the owner: an admin may name any active user (as on
 * create); an owner handing the project over must pick a manager or admin,
 * someone who can then manage it (it_permissions: projects.update own). */
static int it_project_check_new_owner(it_req_t *req, it_resp_t *resp,
                                      it_db_t *db, const char *owner)
{
    it_dbres_t *res;
    it_role_t role;

    if (it_db_exec(db, &res, it_sql_project_new_owner, 1, &owner) != 0) {
        return it_problem_db(resp, db);
    }
    if (res->nrows == 0) {
        return it_problem_validation(resp, it_problem_error_add(NULL,
                   "owner_id", "not_found", "must be an active user"));
    }
    role = it_role_parse(it_dbres_get(res, 0, 0));
    if (req->caller->role < IT_ROLE_ADMIN && role < IT_ROLE_MANAGER) {
        return it_problem_validation(resp, it_problem_error_add(NULL,
                   "owner_id", "role",
                   "must be a manager or an admin (only an admin may make "
                   "someone else the owner)"));
    }
    return 0;
}

static int it_projects_update(it_req_t *req, it_resp_t *resp)
{
    const char *id = req->params[0];
    json_t *body, *desc;
    it_precondition_t pre;
    const char *params[7], *key, *cur_owner, *owner;
    it_db_t *db;
    it_dbres_t *res;
    int rc, admin;

    if ((rc = it_json_body(req, resp, it_project_update_spec, &body)) != 0
        || (rc = it_project_check_bytes(resp, body)) != 0
        || (rc = it_version_precondition(req, resp, body, 0, &pre)) != 0) {
        return rc;
    }
    if (!(db = it_req_db(req))) {
        return it_problem_db(resp, NULL);
    }
    if (it_db_exec(db, &res, it_sql_project_current, 1, &id) != 0) {
        return it_problem_db(resp, db);
    }
    if (res->nrows == 0) {
        return it_project_not_found(resp, id);
    }
    cur_owner = it_dbres_get(res, 0, 1);
    if ((rc = it_auth_require(req, resp, "projects.update",
                              !strcmp(cur_owner, req->caller->id))) != 0
        || (rc = it_version_require(req, resp, &pre)) != 0) {
        return rc;
    }
    key = it_json_str(body, "key");
    if (key && strcmp(key, it_dbres_get(res, 0, 0))) {
        return it_problem_validation(resp, it_problem_error_add(NULL, "key",
                   "immutable", "cannot be changed: issue keys are made from it"));
    }
    owner = it_json_str(body, "owner_id");
    if (owner && !strcasecmp(owner, cur_owner)) {
        owner = NULL;                           /* no change */
    }
    if (owner && (rc = it_project_check_new_owner(req, resp, db, owner)) != 0) {
        return rc;
    }
    admin = it_auth_allowed(req->caller, "projects.update", 0);
    desc = json_object_get(body, "description");
    params[0] = id;
    params[1] = it_json_str(body, "name");
    params[2] = desc ? "true" : "false";
    params[3] = json_string_value(desc);
    params[4] = owner;
    params[5] = it_version_param(req->pool, &pre);
    params[6] = admin ? NULL : req->caller->id;
    if (it_db_exec(db, &res, it_sql_project_update, 7, params) != 0) {
        return it_project_db_error(resp, db, NULL);
    }
    if (res->nrows == 0) {
        return it_project_write_failed(req, resp, db, &pre, params[6], 0);
    }
    return it_version_respond(req, resp, 200, it_dbres_get(res, 0, 0),
                              it_dbres_get(res, 0, 1));
}

/* ---- DELETE /projects/{id} --------------------------------------------- */

static const it_field_t it_project_delete_spec[] = {
    { "version", IT_JT_INT, 0, 1, INT_MAX, NULL, NULL },
    { NULL,      IT_JT_STRING, 0, 0, 0, NULL, NULL }
};

/* Soft: the row and its issues stay (the issues become read-only), the
 * key stays taken, an admin can restore it. */
static const char it_sql_project_delete[] =
    "UPDATE projects p SET is_deleted = true, deleted_at = now(),"
    " updated_at = now(), version = p.version + 1"
    " WHERE p.id = $1::uuid AND NOT p.is_deleted"
    "   AND ($2::int IS NULL OR p.version = $2::int)"
    "   AND ($3::uuid IS NULL OR p.owner_id = $3::uuid)";

static int it_projects_delete(it_req_t *req, it_resp_t *resp)
{
    const char *id = req->params[0];
    json_t *body;
    it_precondition_t pre;
    const char *params[3];
    it_db_t *db;
    it_dbres_t *res;
    int rc;

    if ((rc = it_project_optional_body(req, resp, it_project_delete_spec, &body)) != 0
        || (rc = it_version_precondition(req, resp, body, 0, &pre)) != 0) {
        return rc;
    }
    if (!(db = it_req_db(req))) {
        return it_problem_db(resp, NULL);
    }
    if (it_db_exec(db, &res, it_sql_project_current, 1, &id) != 0) {
        return it_problem_db(resp, db);
    }
    if (res->nrows == 0) {
        return it_project_not_found(resp, id);
    }
    if ((rc = it_auth_require(req, resp, "projects.delete",
                              !strcmp(it_dbres_get(res, 0, 1), req->caller->id))) != 0
        || (rc = it_version_require(req, resp, &pre)) != 0) {
        return rc;
    }
    params[0] = id;
    params[1] = it_version_param(req->pool, &pre);
    params[2] = it_auth_allowed(req->caller, "projects.delete", 0)
                ? NULL : req->caller->id;
    if (it_db_exec(db, &res, it_sql_project_delete, 3, params) != 0) {
        return it_problem_db(resp, db);
    }
    if (res->affected == 0) {
        return it_project_write_failed(req, resp, db, &pre, params[2], 0);
    }
    resp->status = 204;
    return 204;
}

/* ---- POST /projects/{id}/restore --------------------------------------- */

/* No precondition required (DESIGN.md section 4); If-Match is honoured. */
static const char it_sql_project_restore[] =
    "UPDATE projects p SET is_deleted = false, deleted_at = NULL,"
    " updated_at = now(), version = p.version + 1"
    " WHERE p.id = $1::uuid AND p.is_deleted"
    "   AND ($2::int IS NULL OR p.version = $2::int)"
    " RETURNING " IT_PROJECT_DOC ", p.version";

static int it_projects_restore(it_req_t *req, it_resp_t *resp)
{
    it_precondition_t pre;
    const char *params[2];
    it_db_t *db;
    it_dbres_t *res;
    int rc;

    if ((rc = it_version_precondition(req, resp, NULL, 0, &pre)) != 0) {
        return rc;
    }
    if (!(db = it_req_db(req))) {
        return it_problem_db(resp, NULL);
    }
    params[0] = req->params[0];
    params[1] = it_version_param(req->pool, &pre);
    if (it_db_exec(db, &res, it_sql_project_restore, 2, params) != 0) {
        return it_problem_db(resp, db);
    }
    if (res->nrows == 0) {
        return it_project_write_failed(req, resp, db, &pre, NULL, 1);
    }
    return it_version_respond(req, resp, 200, it_dbres_get(res, 0, 0),
                              it_dbres_get(res, 0, 1));
}

static const it_route_t it_projects_routes[] = {
    { "POST",   IT_API_BASE "/projects",              it_projects_create,  "projects.create",  0 },
    { "GET",    IT_API_BASE "/projects",              it_projects_list,    "projects.list",    0 },
    { "GET",    IT_API_BASE "/projects/{id}",         it_projects_read,    "projects.read",    0 },
    { "PATCH",  IT_API_BASE "/projects/{id}",         it_projects_update,  "projects.update",  0 },
    { "DELETE", IT_API_BASE "/projects/{id}",         it_projects_delete,  "projects.delete",  0 },
    { "POST",   IT_API_BASE "/projects/{id}/restore", it_projects_restore, "projects.restore", 0 },
    { NULL, NULL, NULL, NULL, 0 }
};

const it_resource_t it_res_projects = { "projects", it_projects_routes };
