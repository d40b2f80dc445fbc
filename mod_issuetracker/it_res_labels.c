/*
 * it_res_labels.c -- labels, and the label set of an issue.
 *
 *   POST   /api/v1/labels                           create (manager+)
 *   GET    /api/v1/labels                           list (q, sort name|created_at)
 *   GET    /api/v1/labels/{id}                      read
 *   PATCH  /api/v1/labels/{id}                      edit (manager+, precondition)
 *   DELETE /api/v1/labels/{id}                      soft delete (manager+)
 *   GET    /api/v1/issues/{ref}/labels              the issue's labels
 *   PUT    /api/v1/issues/{ref}/labels              replace the set
 *   POST   /api/v1/issues/{ref}/labels              add one
 *   DELETE /api/v1/issues/{ref}/labels/{label_id}   remove one
 *
 * Label names are unique case-insensitively among live labels
 * (labels_name_lower_key). An issue's labels are part of the issue
 * (DESIGN.md section 4): changing them takes the issue's If-Match without
 * requiring it, bumps the issue's version and writes labeled / unlabeled
 * events in the same transaction; a change that changes nothing keeps the
 * version and writes nothing. Deleting a label takes it off its issues,
 * with an unlabeled event and a version bump on each, in one transaction.
 *
 * Locks: issue writes lock the issue row, then the labels they attach
 * (FOR SHARE, so a concurrent label delete cannot slip in between); a label
 * delete locks the label, then its issues. Opposite orders may deadlock;
 * PostgreSQL detects it and it_db_tx retries the loser.
 */
#include <string.h>
#include <stdlib.h>
#include <limits.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "it_auth.h"
#include "it_config.h"
#include "it_db.h"
#include "it_dispatch.h"
#include "it_events.h"
#include "it_issues.h"
#include "it_json.h"
#include "it_page.h"
#include "it_problem.h"
#include "it_router.h"
#include "it_version.h"

#define IT_LABELS_PATH IT_API_BASE "/labels"
#define IT_LABEL_TX_TRIES 3
#define IT_LABEL_Q_MAX 200
#define IT_LABEL_SET_MAX 100

#define IT_LABEL_FIELDS \
    "'id', l.id, 'name', l.name, 'color', l.color," \
    " 'description', l.description, 'created_at', it_ts(l.created_at)," \
    " 'updated_at', it_ts(l.updated_at), 'version', l.version"

/* Deleted labels, which only admins see, say so. */
#define IT_LABEL_DOC \
    "(CASE WHEN l.is_deleted THEN json_build_object(" IT_LABEL_FIELDS \
    ", 'is_deleted', true, 'deleted_at', it_ts(l.deleted_at))" \
    " ELSE json_build_object(" IT_LABEL_FIELDS ") END)::text"

/* An issue's label set ($1 the issue id), ordered by name: one range of
 * the issue_labels primary key. */
static const char it_sql_issue_labels_doc[] =
    "SELECT json_build_object('issue_id', i.id, 'version', i.version,"
    " 'labels', COALESCE((SELECT json_agg(json_build_object('id', l.id,"
    "   'name', l.name, 'color', l.color) ORDER BY l.name, l.id)"
    "   FROM issue_labels il JOIN labels l ON l.id = il.label_id"
    "   WHERE il.issue_id = i.id), '[]'::json))::text, i.version"
    " FROM issues i WHERE i.id = $1::uuid";

/* ---- field checks ------------------------------------------------------- */

static const char *it_label_name_check(const char *v)
{
    for (; *v; v++) {
        if (!apr_isspace(*v)) {
            return NULL;
        }
    }
    return "must not be blank";
}

static const char *it_label_color_check(const char *v)
{
    int i;

    if (v[0] != '#' || strlen(v) != 7) {
        goto bad;
    }
    for (i = 1; i < 7; i++) {
        if (!apr_isxdigit(v[i])) {
            goto bad;
        }
    }
    return NULL;
bad:
    return "must be a color #RRGGBB (six hexadecimal digits)";
}

static const it_field_t it_label_create_spec[] = {
    { "name",        IT_JT_STRING, IT_F_REQUIRED, 1, 50, NULL, it_label_name_check },
    { "color",       IT_JT_STRING, 0, 7, 7, NULL, it_label_color_check },
    { "description", IT_JT_STRING, IT_F_NULLABLE, 0, 1000, NULL, NULL },
    { NULL,          IT_JT_STRING, 0, 0, 0, NULL, NULL }
};

static const it_field_t it_label_update_spec[] = {
    { "name",        IT_JT_STRING, 0, 1, 50, NULL, it_label_name_check },
    { "color",       IT_JT_STRING, 0, 7, 7, NULL, it_label_color_check },
    { "description", IT_JT_STRING, IT_F_NULLABLE, 0, 1000, NULL, NULL },
    { "version",     IT_JT_INT,    0, 1, INT_MAX, NULL, NULL },
    { NULL,          IT_JT_STRING, 0, 0, 0, NULL, NULL }
};

static const it_field_t it_label_version_spec[] = {
    { "version", IT_JT_INT, 0, 1, INT_MAX, NULL, NULL },
    { NULL,      IT_JT_STRING, 0, 0, 0, NULL, NULL }
};

static const it_field_t it_issue_label_set_spec[] = {
    { "label_ids", IT_JT_UUID_ARRAY, IT_F_REQUIRED, 0, IT_LABEL_SET_MAX, NULL, NULL },
    { "version",   IT_JT_INT,        0, 1, INT_MAX, NULL, NULL },
    { NULL,        IT_JT_STRING,     0, 0, 0, NULL, NULL }
};

static const it_field_t it_issue_label_add_spec[] = {
    { "label_id", IT_JT_UUID,   IT_F_REQUIRED, 0, 0, NULL, NULL },
    { "version",  IT_JT_INT,    0, 1, INT_MAX, NULL, NULL },
    { NULL,       IT_JT_STRING, 0, 0, 0, NULL, NULL }
};

/* ---- helpers ------------------------------------------------------------ */

static const char *it_json_str(json_t *body, const char *name)
{
    return json_string_value(json_object_get(body, name));   /* NULL for null */
}

static const char *it_lower(apr_pool_t *pool, const char *s)
{
    char *out, *o;

    if (!s) {
        return NULL;
    }
    out = apr_pstrdup(pool, s);
    for (o = out; *o; o++) {
        *o = (char)apr_tolower(*o);
    }
    return out;
}

static int it_label_not_found(it_resp_t *resp, const char *id)
{
    return it_problem(resp, 404, "not_found", "No label with id %s", id);
}

/* Unique name -> 409 naming the field; everything else as the core maps. */
static int it_label_db_error(it_resp_t *resp, it_db_t *db, const char *name)
{
    if (db->err.status == 409 && db->err.constraint
        && !strcmp(db->err.constraint, "labels_name_lower_key")) {
        it_problem(resp, 409, "conflict",
                   "A label named %s already exists (names are unique "
                   "regardless of case)", name ? name : "like this");
        it_problem_set(resp, "field", json_string("name"));
        it_problem_set(resp, "errors", it_problem_error_add(NULL, "name",
                       "duplicate", "is already taken (case-insensitively)"));
        return 409;
    }
    return it_problem_db(resp, db);
}

static int it_label_optional_body(it_req_t *req, it_resp_t *resp, json_t **body)
{
    *body = NULL;
    if (req->content_length > 0
        || (req->headers && apr_table_get(req->headers, "Transfer-Encoding"))) {
        return it_json_body(req, resp, it_label_version_spec, body);
    }
    return 0;
}

/* ---- POST /labels ------------------------------------------------------- */

static const char it_sql_label_insert[] =
    "INSERT INTO labels AS l (name, color, description)"
    " VALUES ($1, COALESCE($2::text, '#808080'), $3)"
    " RETURNING " IT_LABEL_DOC ", l.version, l.id";

static int it_labels_create(it_req_t *req, it_resp_t *resp)
{
    json_t *body;
    const char *params[3];
    it_db_t *db;
    it_dbres_t *res;
    int rc;

    if ((rc = it_json_body(req, resp, it_label_create_spec, &body)) != 0) {
        return rc;
    }
    params[0] = it_json_str(body, "name");
    params[1] = it_json_str(body, "color");
    params[2] = it_json_str(body, "description");
    if (!(db = it_req_db(req))) {
        return it_problem_db(resp, NULL);
    }
    if (it_db_exec(db, &res, it_sql_label_insert, 3, params) != 0) {
        return it_label_db_error(resp, db, params[0]);
    }
    apr_table_setn(resp->headers, "Location",
                   apr_pstrcat(req->pool, IT_LABELS_PATH "/",
                               it_dbres_get(res, 0, 2), NULL));
    return it_version_respond(req, resp, 201, it_dbres_get(res, 0, 0),
                              it_dbres_get(res, 0, 1));
}

/* ---- GET /labels -------------------------------------------------------- */

static const it_sort_t it_label_sorts[] = {
    { "name",       "l.name",       "text" },
    { "created_at", "l.created_at", "timestamptz" },
    { NULL, NULL, NULL }
};

static const char *const it_label_list_params[] = { "q", NULL };

/* $1 ILIKE pattern (NULL: none), $2 include_deleted */
#define IT_LABEL_LIST_FROM \
    " FROM labels l" \
    " WHERE ($1::text IS NULL OR l.name ILIKE $1::text ESCAPE '\\')" \
    "   AND ($2::boolean OR NOT l.is_deleted)"

static const char it_sql_label_count[] = "SELECT count(*)" IT_LABEL_LIST_FROM;

static int it_labels_list(it_req_t *req, it_resp_t *resp)
{
    json_t *errors = NULL;
    it_page_t pg;
    const char *q, *params[4], *sql;
    it_db_t *db;
    it_dbres_t *res;
    long total = -1;
    int rc, n = 2;

    it_query_known(req, it_label_list_params, &errors);
    if ((rc = it_page_parse(req, resp, it_label_sorts, "name", &pg, &errors)) != 0) {
        json_decref(errors);
        return rc;
    }
    q = apr_table_get(req->query, "q");
    if (q && !*q) {
        q = NULL;
    }
    if (q && it_utf8_len(q) > IT_LABEL_Q_MAX) {
        errors = it_problem_error_add(errors, "q", "too_long",
                                      "must be at most 200 characters long");
    }
    if (errors) {
        return it_problem_validation(resp, errors);
    }
    if (pg.include_deleted && !it_auth_allowed(req->caller, "deleted.read", 0)) {
        return it_problem(resp, 403, "forbidden",
                          "include_deleted=true is for admins only");
    }
    params[0] = q ? it_query_like_contains(req->pool, q) : NULL;
    params[1] = pg.include_deleted ? "true" : "false";
    if (pg.after_id) {
        params[n++] = pg.after_key;
        params[n++] = pg.after_id;
    }
    sql = apr_pstrcat(req->pool, "SELECT " IT_LABEL_DOC ", l.id, (",
                      pg.sort->column, ")::text" IT_LABEL_LIST_FROM " AND ",
                      it_page_keyset_sql(req->pool, &pg, "l.id", 3), " ",
                      it_page_order_sql(req->pool, &pg, "l.id"), " ",
                      it_page_limit_sql(req->pool, &pg), NULL);
    if (!(db = it_req_db(req))) {
        return it_problem_db(resp, NULL);
    }
    if (it_db_exec(db, &res, sql, n, params) != 0) {
        return it_problem_db(resp, db);
    }
    if (pg.include_total) {
        it_dbres_t *cnt;
        if (it_db_exec(db, &cnt, it_sql_label_count, 2, params) != 0) {
            return it_problem_db(resp, db);
        }
        total = atol(it_dbres_get(cnt, 0, 0));
    }
    return it_page_respond_res(req, resp, &pg, res, 0, 1, 2, total);
}

/* ---- GET /labels/{id} --------------------------------------------------- */

static const char it_sql_label_get[] =
    "SELECT " IT_LABEL_DOC ", l.version, l.is_deleted FROM labels l"
    " WHERE l.id = $1::uuid";

static int it_labels_read(it_req_t *req, it_resp_t *resp)
{
    const char *id = req->params[0];
    const apr_array_header_t *arr = apr_table_elts(req->query);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    json_t *errors = NULL;
    int include_deleted = 0, i;
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
    if (include_deleted && !it_auth_allowed(req->caller, "deleted.read", 0)) {
        return it_problem(resp, 403, "forbidden",
                          "include_deleted=true is for admins only");
    }
    if (!(db = it_req_db(req))) {
        return it_problem_db(resp, NULL);
    }
    if (it_db_exec(db, &res, it_sql_label_get, 1, &id) != 0) {
        return it_problem_db(resp, db);
    }
    if (res->nrows == 0 || (!include_deleted && !strcmp(it_dbres_get(res, 0, 2), "t"))) {
        return it_label_not_found(resp, id);
    }
    return it_version_respond(req, resp, 200, it_dbres_get(res, 0, 0),
                              it_dbres_get(res, 0, 1));
}

/* ---- PATCH /labels/{id} ------------------------------------------------- */

static const char it_sql_label_state[] =
    "SELECT l.version, l.is_deleted FROM labels l WHERE l.id = $1::uuid";

/* $2 name, $3 color (NULL: keep), $4 whether description is given, $5 it.
 * The version moves only when a value really changes. */
#define IT_LABEL_CHANGED \
    "(($2::text IS NOT NULL AND $2::text IS DISTINCT FROM l.name)" \
    " OR ($3::text IS NOT NULL AND $3::text IS DISTINCT FROM l.color)" \
    " OR ($4::boolean AND $5::text IS DISTINCT FROM l.description))"

static const char it_sql_label_update[] =
    "UPDATE labels l SET"
    " name = COALESCE($2::text, l.name),"
    " color = COALESCE($3::text, l.color),"
    " description = CASE WHEN $4::boolean THEN $5::text ELSE l.description END,"
    " version = l.version + CASE WHEN " IT_LABEL_CHANGED " THEN 1 ELSE 0 END,"
    " updated_at = CASE WHEN " IT_LABEL_CHANGED " THEN now() ELSE l.updated_at END"
    " WHERE l.id = $1::uuid AND NOT l.is_deleted"
    "   AND ($6::int IS NULL OR l.version = $6::int)"
    " RETURNING " IT_LABEL_DOC ", l.version";

/* A conditional write matched no row: 404 or a stale version. */
static int it_label_write_failed(it_req_t *req, it_resp_t *resp, it_db_t *db,
                                 const it_precondition_t *pre)
{
    const char *id = req->params[0];
    it_dbres_t *res;

    if (it_db_exec(db, &res, it_sql_label_state, 1, &id) != 0) {
        return it_problem_db(resp, db);
    }
    if (res->nrows == 0 || !strcmp(it_dbres_get(res, 0, 1), "t")) {
        return it_label_not_found(resp, id);
    }
    if (pre->expected < 0) {
        return it_problem(resp, 409, "conflict",
                          "The label changed while this request ran; retry");
    }
    it_version_conflict(resp, pre, atol(it_dbres_get(res, 0, 0)));
    it_version_etag(resp, it_dbres_get(res, 0, 0));
    return resp->status;
}

static int it_labels_update(it_req_t *req, it_resp_t *resp)
{
    const char *id = req->params[0];
    json_t *body, *desc;
    it_precondition_t pre;
    const char *params[6];
    it_db_t *db;
    it_dbres_t *res;
    int rc;

    if ((rc = it_json_body(req, resp, it_label_update_spec, &body)) != 0
        || (rc = it_version_precondition(req, resp, body, 0, &pre)) != 0) {
        return rc;
    }
    if (!(db = it_req_db(req))) {
        return it_problem_db(resp, NULL);
    }
    if (it_db_exec(db, &res, it_sql_label_state, 1, &id) != 0) {
        return it_problem_db(resp, db);
    }
    if (res->nrows == 0 || !strcmp(it_dbres_get(res, 0, 1), "t")) {
        return it_label_not_found(resp, id);
    }
    if ((rc = it_version_require(req, resp, &pre)) != 0) {
        return rc;
    }
    desc = json_object_get(body, "description");
    params[0] = id;
    params[1] = it_json_str(body, "name");
    params[2] = it_json_str(body, "color");
    params[3] = desc ? "true" : "false";
    params[4] = json_string_value(desc);
    params[5] = it_version_param(req->pool, &pre);
    if (it_db_exec(db, &res, it_sql_label_update, 6, params) != 0) {
        return it_label_db_error(resp, db, params[1]);
    }
    if (res->nrows == 0) {
        return it_label_write_failed(req, resp, db, &pre);
    }
    return it_version_respond(req, resp, 200, it_dbres_get(res, 0, 0),
                              it_dbres_get(res, 0, 1));
}

/* ---- DELETE /labels/{id} ------------------------------------------------ */

static const char it_sql_label_lock[] =
    "SELECT l.version, l.is_deleted, l.name FROM labels l"
    " WHERE l.id = $1::uuid FOR NO KEY UPDATE";

/* Takes the label off every issue: a version bump and an unlabeled event
 * on each. $1 label, $2 actor, $3 the label's name. */
static const char it_sql_label_unlink[] =
    "WITH d AS (DELETE FROM issue_labels il WHERE il.label_id = $1::uuid"
    "           RETURNING il.issue_id),"
    " u AS (UPDATE issues i SET version = i.version + 1, updated_at = now()"
    "        FROM d WHERE i.id = d.issue_id RETURNING i.id)"
    " INSERT INTO issue_events (issue_id, kind, actor_id, data)"
    " SELECT u.id, 'unlabeled', $2::uuid,"
    "        jsonb_build_object('label_id', $1::uuid, 'name', $3::text)"
    "   FROM u";

static const char it_sql_label_delete[] =
    "UPDATE labels l SET is_deleted = true, deleted_at = now(),"
    " updated_at = now(), version = l.version + 1"
    " WHERE l.id = $1::uuid AND NOT l.is_deleted";

typedef struct {
    it_req_t *req;
    it_resp_t *resp;
    it_precondition_t pre;
} it_label_delete_t;

static int it_label_delete_tx(it_db_t *db, void *ctx)
{
    it_label_delete_t *d = ctx;
    const char *id = d->req->params[0], *params[3];
    it_dbres_t *res;
    int rc;

    if (it_db_exec(db, &res, it_sql_label_lock, 1, &id) != 0) {
        return -1;
    }
    if (res->nrows == 0 || !strcmp(it_dbres_get(res, 0, 1), "t")) {
        return it_label_not_found(d->resp, id);
    }
    if ((rc = it_version_require(d->req, d->resp, &d->pre)) != 0
        || (rc = it_version_stale(d->resp, &d->pre, it_dbres_get(res, 0, 0))) != 0) {
        return rc;
    }
    params[0] = id;
    params[1] = d->req->caller->id;
    params[2] = it_dbres_get(res, 0, 2);
    if (it_db_exec(db, NULL, it_sql_label_unlink, 3, params) != 0
        || it_db_exec(db, NULL, it_sql_label_delete, 1, params) != 0) {
        return -1;
    }
    d->resp->status = 204;
    return 0;
}

static int it_labels_delete(it_req_t *req, it_resp_t *resp)
{
    it_label_delete_t d;
    json_t *body;
    int rc;

    memset(&d, 0, sizeof(d));
    d.req = req;
    d.resp = resp;
    if ((rc = it_label_optional_body(req, resp, &body)) != 0
        || (rc = it_version_precondition(req, resp, body, 0, &d.pre)) != 0) {
        return rc;
    }
    return it_req_tx(req, resp, it_label_delete_tx, &d, IT_LABEL_TX_TRIES);
}

/* ---- /issues/{ref}/labels ----------------------------------------------- */

static const char it_sql_issue_lock[] =
    "SELECT i.id, i.version, i.is_deleted, p.is_deleted"
    " FROM issues i JOIN projects p ON p.id = i.project_id"
    " WHERE " IT_ISSUE_REF_WHERE
    " FOR NO KEY UPDATE OF i";

static const char it_sql_issue_find[] =
    "SELECT i.id, i.is_deleted FROM issues i WHERE " IT_ISSUE_REF_WHERE;

/* Live labels among $1, locked against a concurrent delete. */
static const char it_sql_labels_lock[] =
    "SELECT l.id FROM labels l WHERE l.id = ANY($1::uuid[]) AND NOT l.is_deleted"
    " ORDER BY l.id FOR SHARE";

/* Of $1, the ids that name no live label. */
static const char it_sql_labels_missing[] =
    "SELECT x::text FROM unnest($1::uuid[]) x"
    " WHERE NOT EXISTS (SELECT 1 FROM labels l WHERE l.id = x AND NOT l.is_deleted)"
    " ORDER BY 1";

/* $1 issue, $2 ids. Each returns the label rows it changed, by name. */
static const char it_sql_issue_labels_add[] =
    "WITH a AS (INSERT INTO issue_labels (issue_id, label_id)"
    "           SELECT $1::uuid, x FROM unnest($2::uuid[]) x"
    "           ON CONFLICT DO NOTHING RETURNING label_id)"
    " SELECT l.id, l.name FROM a JOIN labels l ON l.id = a.label_id"
    " ORDER BY l.name, l.id";

static const char it_sql_issue_labels_keep[] =
    "WITH d AS (DELETE FROM issue_labels il WHERE il.issue_id = $1::uuid"
    "           AND il.label_id <> ALL($2::uuid[]) RETURNING il.label_id)"
    " SELECT l.id, l.name FROM d JOIN labels l ON l.id = d.label_id"
    " ORDER BY l.name, l.id";

static const char it_sql_issue_labels_remove[] =
    "WITH d AS (DELETE FROM issue_labels il WHERE il.issue_id = $1::uuid"
    "           AND il.label_id = ANY($2::uuid[]) RETURNING il.label_id)"
    " SELECT l.id, l.name FROM d JOIN labels l ON l.id = d.label_id"
    " ORDER BY l.name, l.id";

static const char it_sql_issue_bump[] =
    "UPDATE issues i SET version = i.version + 1, updated_at = now()"
    " WHERE i.id = $1::uuid";

typedef enum { IT_LS_SET, IT_LS_ADD, IT_LS_REMOVE } it_label_op_t;

typedef struct {
    it_req_t *req;
    it_resp_t *resp;
    it_label_op_t op;
    it_precondition_t pre;
    const char *ref[3];
    const char *ids;             /* uuid[] literal of the ids of the body/path */
} it_issue_labels_t;

static void it_issue_ref_params(apr_pool_t *pool, const char *ref,
                                const char **params)
{
    const char *dash;

    params[0] = params[1] = params[2] = NULL;
    if (it_is_uuid(ref)) {
        params[0] = ref;
        return;
    }
    dash = strrchr(ref, '-');
    params[1] = apr_pstrmemdup(pool, ref, (apr_size_t)(dash - ref));
    params[2] = dash + 1;
}

/* "{id,id,...}" from validated UUID strings (lowercased). */
static const char *it_uuid_array_literal(apr_pool_t *pool, json_t *ids)
{
    const char *out = "{";
    size_t i;

    for (i = 0; i < json_array_size(ids); i++) {
        out = apr_pstrcat(pool, out, i ? "," : "",
                          it_lower(pool, json_string_value(json_array_get(ids, i))),
                          NULL);
    }
    return apr_pstrcat(pool, out, "}", NULL);
}

static json_t *it_label_events(json_t *events, const char *kind,
                               const it_dbres_t *res)
{
    int i;

    for (i = 0; i < res->nrows; i++) {
        events = it_event_push(events, kind,
                               json_pack("{s:s, s:s}", "label_id",
                                         it_dbres_get(res, i, 0), "name",
                                         it_dbres_get(res, i, 1)));
    }
    return events;
}

static int it_issue_labels_respond(it_db_t *db, it_issue_labels_t *c,
                                   const char *issue_id)
{
    it_dbres_t *res;

    if (it_db_exec(db, &res, it_sql_issue_labels_doc, 1, &issue_id) != 0) {
        return -1;
    }
    it_version_respond(c->req, c->resp, 200, it_dbres_get(res, 0, 0),
                       it_dbres_get(res, 0, 1));
    return 0;
}

static int it_issue_labels_tx(it_db_t *db, void *ctx)
{
    it_issue_labels_t *c = ctx;
    it_dbres_t *res, *added = NULL, *removed = NULL;
    const char *issue_id, *params[2];
    json_t *events = NULL;
    int rc;

    if (it_db_exec(db, &res, it_sql_issue_lock, 3, c->ref) != 0) {
        return -1;
    }
    if (res->nrows == 0 || !strcmp(it_dbres_get(res, 0, 2), "t")) {
        return it_problem(c->resp, 404, "not_found", "No issue %s", c->req->params[0]);
    }
    if (!strcmp(it_dbres_get(res, 0, 3), "t")) {
        return it_problem(c->resp, 409, "project_deleted",
                          "The issue's project is deleted: its issues are "
                          "read-only until an admin restores the project");
    }
    if ((rc = it_version_stale(c->resp, &c->pre, it_dbres_get(res, 0, 1))) != 0) {
        return rc;
    }
    issue_id = it_dbres_get(res, 0, 0);
    if (c->op != IT_LS_REMOVE) {
        if (it_db_exec(db, NULL, it_sql_labels_lock, 1, &c->ids) != 0
            || it_db_exec(db, &res, it_sql_labels_missing, 1, &c->ids) != 0) {
            return -1;
        }
        if (res->nrows > 0) {
            const char *field = c->op == IT_LS_SET ? "label_ids" : "label_id";
            json_t *errors = NULL;
            int i;
            for (i = 0; i < res->nrows; i++) {
                errors = it_problem_error_add(errors, field, "not_found",
                             apr_psprintf(c->req->pool, "no label with id %s",
                                          it_dbres_get(res, i, 0)));
            }
            return it_problem_validation(c->resp, errors);
        }
    }
    else {
        static const char it_sql_label_live[] =
            "SELECT 1 FROM labels l WHERE l.id = $1::uuid AND NOT l.is_deleted";
        const char *label_id = c->req->params[1];
        if (it_db_exec(db, &res, it_sql_label_live, 1, &label_id) != 0) {
            return -1;
        }
        if (res->nrows == 0) {
            return it_label_not_found(c->resp, label_id);
        }
    }
    params[0] = issue_id;
    params[1] = c->ids;
    if (c->op == IT_LS_SET
        && it_db_exec(db, &removed, it_sql_issue_labels_keep, 2, params) != 0) {
        return -1;
    }
    if (c->op == IT_LS_REMOVE
        && it_db_exec(db, &removed, it_sql_issue_labels_remove, 2, params) != 0) {
        return -1;
    }
    if (c->op != IT_LS_REMOVE
        && it_db_exec(db, &added, it_sql_issue_labels_add, 2, params) != 0) {
        return -1;
    }
    if (removed) {
        events = it_label_events(events, "unlabeled", removed);
    }
    if (added) {
        events = it_label_events(events, "labeled", added);
    }
    if (events && json_array_size(events) > 0) {
        rc = it_db_exec(db, NULL, it_sql_issue_bump, 1, &issue_id) != 0
             || it_events_add(db, issue_id, c->req->caller->id, events) != 0;
        json_decref(events);
        if (rc) {
            return -1;
        }
    }
    else {
        json_decref(events);
    }
    return it_issue_labels_respond(db, c, issue_id);
}

static int it_issue_labels_run(it_req_t *req, it_resp_t *resp,
                               it_issue_labels_t *c, json_t *body)
{
    int rc;

    c->req = req;
    c->resp = resp;
    if ((rc = it_version_precondition(req, resp, body, 0, &c->pre)) != 0) {
        return rc;
    }
    it_issue_ref_params(req->pool, req->params[0], c->ref);
    return it_req_tx(req, resp, it_issue_labels_tx, c, IT_LABEL_TX_TRIES);
}

static int it_issue_labels_set(it_req_t *req, it_resp_t *resp)
{
    it_issue_labels_t c;
    json_t *body;
    int rc;

    memset(&c, 0, sizeof(c));
    if ((rc = it_json_body(req, resp, it_issue_label_set_spec, &body)) != 0) {
        return rc;
    }
    c.op = IT_LS_SET;
    c.ids = it_uuid_array_literal(req->pool, json_object_get(body, "label_ids"));
    return it_issue_labels_run(req, resp, &c, body);
}

static int it_issue_labels_add(it_req_t *req, it_resp_t *resp)
{
    it_issue_labels_t c;
    json_t *body;
    int rc;

    memset(&c, 0, sizeof(c));
    if ((rc = it_json_body(req, resp, it_issue_label_add_spec, &body)) != 0) {
        return rc;
    }
    c.op = IT_LS_ADD;
    c.ids = apr_pstrcat(req->pool, "{",
                        it_lower(req->pool, it_json_str(body, "label_id")), "}",
                        NULL);
    return it_issue_labels_run(req, resp, &c, body);
}

static int it_issue_labels_remove(it_req_t *req, it_resp_t *resp)
{
    it_issue_labels_t c;

    memset(&c, 0, sizeof(c));
    c.op = IT_LS_REMOVE;
    c.ids = apr_pstrcat(req->pool, "{", req->params[1], "}", NULL);
    return it_issue_labels_run(req, resp, &c, NULL);
}

static int it_issue_labels_read(it_req_t *req, it_resp_t *resp)
{
    const char *ref[3];
    it_issue_labels_t c;
    it_db_t *db;
    it_dbres_t *res;

    if (apr_table_elts(req->query)->nelts > 0) {
        const apr_array_header_t *arr = apr_table_elts(req->query);
        const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
        json_t *errors = NULL;
        int i;
        for (i = 0; i < arr->nelts; i++) {
            errors = it_problem_error_add(errors, e[i].key, "unknown_parameter",
                                          "is not a known parameter");
        }
        return it_problem_validation(resp, errors);
    }
    if (!(db = it_req_db(req))) {
        return it_problem_db(resp, NULL);
    }
    it_issue_ref_params(req->pool, req->params[0], ref);
    if (it_db_exec(db, &res, it_sql_issue_find, 3, ref) != 0) {
        return it_problem_db(resp, db);
    }
    if (res->nrows == 0 || !strcmp(it_dbres_get(res, 0, 1), "t")) {
        return it_problem(resp, 404, "not_found", "No issue %s", req->params[0]);
    }
    memset(&c, 0, sizeof(c));
    c.req = req;
    c.resp = resp;
    if (it_issue_labels_respond(db, &c, it_dbres_get(res, 0, 0)) != 0) {
        return it_problem_db(resp, db);
    }
    return resp->status;
}

static const it_route_t it_labels_routes[] = {
    { "POST",   IT_LABELS_PATH,          it_labels_create, "labels.create", 0 },
    { "GET",    IT_LABELS_PATH,          it_labels_list,   "labels.list",   0 },
    { "GET",    IT_LABELS_PATH "/{id}",  it_labels_read,   "labels.read",   0 },
    { "PATCH",  IT_LABELS_PATH "/{id}",  it_labels_update, "labels.update", 0 },
    { "DELETE", IT_LABELS_PATH "/{id}",  it_labels_delete, "labels.delete", 0 },
    { "GET",    IT_API_BASE "/issues/{ref}/labels",      it_issue_labels_read,   "issues.read",  0 },
    { "PUT",    IT_API_BASE "/issues/{ref}/labels",      it_issue_labels_set,    "issues.label", 0 },
    { "POST",   IT_API_BASE "/issues/{ref}/labels",      it_issue_labels_add,    "issues.label", 0 },
    { "DELETE", IT_API_BASE "/issues/{ref}/labels/{id}", it_issue_labels_remove, "issues.label", 0 },
    { NULL, NULL, NULL, NULL, 0 }
};

const it_resource_t it_res_labels = { "labels", it_labels_routes };
