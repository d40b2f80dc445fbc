/*
 * it_res_comments.c -- threaded comments on issues.
 *
 *   POST   /api/v1/issues/{ref}/comments   create (a reply with parent_id)
 *   GET    /api/v1/issues/{ref}/comments   thread order; format=flat|tree
 *   GET    /api/v1/comments/{id}           one comment
 *   PATCH  /api/v1/comments/{id}           edit the body (author, admin)
 *   DELETE /api/v1/comments/{id}           soft delete (author, manager+)
 *
 * Thread order is `ORDER BY path` over the materialised path of
 * docs/schema.md (comments_issue_path_key). A comment is a resource of its
 * own: creating one needs no precondition and leaves the issue's version
 * alone; its own PATCH / DELETE need the comment's version. Every write
 * records its timeline event (commented, comment_edited, comment_deleted)
 * in the same transaction.
 *
 * A deleted comment stays in the thread, body null and is_deleted true, as
 * long as one of its descendants is live (replies keep their place); one
 * with no live descendant is left out of the lists. Lists page by
 * top-level thread: `size` threads per page, each with all its comments.
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
#include "it_idempotency.h"
#include "it_issues.h"
#include "it_json.h"
#include "it_page.h"
#include "it_problem.h"
#include "it_router.h"
#include "it_version.h"

#define IT_COMMENTS_PATH IT_API_BASE "/comments"
#define IT_COMMENT_BODY_MAX 65536
#define IT_COMMENT_DEPTH_MAX 20
#define IT_COMMENT_TX_TRIES 3
/* a path segment: 12 digits (docs/schema.md, comments_path_check) */
#define IT_COMMENT_SEGMENT 12

/* The comment document. A deleted comment never shows its body. */
#define IT_COMMENT_DOC \
    "json_build_object('id', c.id, 'issue_id', c.issue_id," \
    " 'parent_id', c.parent_id, 'depth', c.depth, 'author_id', c.author_id," \
    " 'body', CASE WHEN c.is_deleted THEN NULL ELSE c.body END," \
    " 'is_deleted', c.is_deleted, 'edited_at', it_ts(c.edited_at)," \
    " 'created_at', it_ts(c.created_at), 'updated_at', it_ts(c.updated_at)," \
    " 'version', c.version)::text"

/* Shown in a list: live, or deleted with a live descendant (a range scan
 * of comments_issue_path_key: descendants' paths start with path || '.',
 * and '/' sorts right after '.'), or everything for $2 include_deleted. */
#define IT_COMMENT_VISIBLE \
    "($2::boolean OR NOT c.is_deleted OR EXISTS (SELECT 1 FROM comments r" \
    " WHERE r.issue_id = c.issue_id AND r.path > c.path || '.'" \
    "   AND r.path < c.path || '/' AND NOT r.is_deleted))"

/* ---- SQL ---------------------------------------------------------------- */

static const char it_sql_comment_issue[] =
    "SELECT i.id, i.is_deleted, p.is_deleted"
    " FROM issues i JOIN projects p ON p.id = i.project_id"
    " WHERE " IT_ISSUE_REF_WHERE;

static const char it_sql_comment_parent[] =
    "SELECT c.issue_id, c.depth, c.is_deleted FROM comments c WHERE c.id = $1::uuid";

/* $1 issue, $2 author, $3 body; the path is the column default */
static const char it_sql_comment_insert[] =
    "INSERT INTO comments AS c (issue_id, author_id, body)"
    " VALUES ($1::uuid, $2::uuid, $3)"
    " RETURNING " IT_COMMENT_DOC ", c.version, c.id";

/* $1 issue, $2 parent, $3 author, $4 body. No row: the parent is gone or
 * too deep meanwhile (checked before, so a race only). */
static const char it_sql_comment_reply[] =
    "INSERT INTO comments AS c (issue_id, parent_id, author_id, body, depth, path)"
    " SELECT p.issue_id, p.id, $3::uuid, $4, p.depth + 1,"
    "        p.path || '.' || to_char(nextval('comments_path_seq'), 'FM000000000000')"
    "   FROM comments p"
    "  WHERE p.id = $2::uuid AND p.issue_id = $1::uuid AND NOT p.is_deleted"
    "    AND p.depth < 20"
    " RETURNING " IT_COMMENT_DOC ", c.version, c.id";

static const char it_sql_comment_get[] =
    "SELECT " IT_COMMENT_DOC ", c.version, c.is_deleted, i.is_deleted"
    " FROM comments c JOIN issues i ON i.id = c.issue_id"
    " WHERE c.id = $1::uuid";

/* The row of a PATCH / DELETE, locked. $2 a new body (NULL: none),
 * compared here so the 64 KiB text is not shipped back to be compared. */
enum {
    IT_CL_ID, IT_CL_VERSION, IT_CL_DELETED, IT_CL_AUTHOR, IT_CL_ISSUE,
    IT_CL_ISSUE_DELETED, IT_CL_PROJECT_DELETED, IT_CL_BODY_CHANGED
};
static const char it_sql_comment_lock[] =
    "SELECT c.id, c.version, c.is_deleted, c.author_id, c.issue_id,"
    "       i.is_deleted, p.is_deleted,"
    "       ($2::text IS NOT NULL AND $2::text IS DISTINCT FROM c.body)"
    " FROM comments c JOIN issues i ON i.id = c.issue_id"
    " JOIN projects p ON p.id = i.project_id"
    " WHERE c.id = $1::uuid"
    " FOR NO KEY UPDATE OF c";

static const char it_sql_comment_doc[] =
    "SELECT " IT_COMMENT_DOC ", c.version FROM comments c WHERE c.id = $1::uuid";

static const char it_sql_comment_update[] =
    "UPDATE comments c SET body = $3, edited_at = now(), updated_at = now(),"
    " version = c.version + 1"
    " WHERE c.id = $1::uuid AND c.version = $2::int AND NOT c.is_deleted"
    " RETURNING " IT_COMMENT_DOC ", c.version";

static const char it_sql_comment_delete[] =
    "UPDATE comments c SET is_deleted = true, deleted_at = now(),"
    " updated_at = now(), version = c.version + 1"
    " WHERE c.id = $1::uuid AND c.version = $2::int AND NOT c.is_deleted";

/* ---- field tables ------------------------------------------------------- */

static const char *it_comment_body_check(const char *v)
{
    for (; *v; v++) {
        if (!apr_isspace(*v)) {
            return NULL;
        }
    }
    return "must not be blank";
}

static const it_field_t it_comment_create_spec[] = {
    { "body",      IT_JT_STRING, IT_F_REQUIRED, 1, IT_COMMENT_BODY_MAX, NULL, it_comment_body_check },
    { "parent_id", IT_JT_UUID,   IT_F_NULLABLE, 0, 0, NULL, NULL },
    { NULL,        IT_JT_STRING, 0, 0, 0, NULL, NULL }
};

static const it_field_t it_comment_update_spec[] = {
    { "body",    IT_JT_STRING, IT_F_REQUIRED, 1, IT_COMMENT_BODY_MAX, NULL, it_comment_body_check },
    { "version", IT_JT_INT,    0, 1, INT_MAX, NULL, NULL },
    { NULL,      IT_JT_STRING, 0, 0, 0, NULL, NULL }
};

static const it_field_t it_comment_version_spec[] = {
    { "version", IT_JT_INT, 0, 1, INT_MAX, NULL, NULL },
    { NULL,      IT_JT_STRING, 0, 0, 0, NULL, NULL }
};

/* Threads are the unit of a page; their key is the top-level path. */
static const it_sort_t it_comment_sorts[] = {
    { "thread", "c.path", "text" },
    { NULL, NULL, NULL }
};

static const char *const it_comment_formats[] = { "flat", "tree", NULL };
static const char *const it_comment_list_params[] = { "format", NULL };

/* ---- helpers ------------------------------------------------------------ */

static void it_comment_ref_params(apr_pool_t *pool, const char *ref,
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

static int it_comment_not_found(it_resp_t *resp, const char *id)
{
    return it_problem(resp, 404, "not_found", "No comment with id %s", id);
}

static int it_comment_issue_not_found(it_resp_t *resp, const char *ref)
{
    return it_problem(resp, 404, "not_found", "No issue %s", ref);
}

static int it_comment_project_deleted(it_resp_t *resp)
{
    return it_problem(resp, 409, "project_deleted",
                      "The issue's project is deleted: its issues and their "
                      "comments are read-only until an admin restores it");
}

static const char *it_comment_event_data(apr_pool_t *pool, const char *id)
{
    return apr_psprintf(pool, "{\"comment_id\": \"%s\"}", id);   /* a UUID */
}

/* ---- POST /issues/{ref}/comments ---------------------------------------- */

typedef struct {
    it_req_t *req;
    it_resp_t *resp;
    it_idem_t *idem;
    const char *ref[3];
    const char *body;
    const char *parent_id;
} it_comment_create_t;

static int it_comment_create_tx(it_db_t *db, void *ctx)
{
    it_comment_create_t *c = ctx;
    it_dbres_t *res;
    const char *issue_id, *params[4], *id;
    int rc;

    if ((rc = it_idem_begin(db, c->idem, c->resp)) != 0) {
        return rc;
    }
    if (it_db_exec(db, &res, it_sql_comment_issue, 3, c->ref) != 0) {
        return -1;
    }
    if (res->nrows == 0 || !strcmp(it_dbres_get(res, 0, 1), "t")) {
        return it_comment_issue_not_found(c->resp, c->req->params[0]);
    }
    if (!strcmp(it_dbres_get(res, 0, 2), "t")) {
        return it_comment_project_deleted(c->resp);
    }
    issue_id = it_dbres_get(res, 0, 0);
    if (c->parent_id) {
        if (it_db_exec(db, &res, it_sql_comment_parent, 1, &c->parent_id) != 0) {
            return -1;
        }
        if (res->nrows == 0 || strcmp(it_dbres_get(res, 0, 0), issue_id)
            || !strcmp(it_dbres_get(res, 0, 2), "t")) {
            return it_problem_validation(c->resp, it_problem_error_add(NULL,
                       "parent_id", "not_found",
                       "must be a live comment of the same issue"));
        }
        if (atoi(it_dbres_get(res, 0, 1)) >= IT_COMMENT_DEPTH_MAX) {
            return it_problem_validation(c->resp, it_problem_error_add(NULL,
                       "parent_id", "too_deep",
                       "replies nest at most 20 levels deep"));
        }
        params[0] = issue_id;
        params[1] = c->parent_id;
        params[2] = c->req->caller->id;
        params[3] = c->body;
        if (it_db_exec(db, &res, it_sql_comment_reply, 4, params) != 0) {
            return -1;
        }
        if (res->nrows == 0) {
            return it_problem_validation(c->resp, it_problem_error_add(NULL,
                       "parent_id", "not_found",
                       "must be a live comment of the same issue"));
        }
    }
    else {
        params[0] = issue_id;
        params[1] = c->req->caller->id;
        params[2] = c->body;
        if (it_db_exec(db, &res, it_sql_comment_insert, 3, params) != 0) {
            return -1;
        }
    }
    id = it_dbres_get(res, 0, 2);
    if (it_event_add(db, issue_id, "commented", c->req->caller->id,
                     it_comment_event_data(c->req->pool, id)) != 0) {
        return -1;
    }
    apr_table_setn(c->resp->headers, "Location",
                   apr_pstrcat(c->req->pool, IT_COMMENTS_PATH "/", id, NULL));
    it_version_respond(c->req, c->resp, 201, it_dbres_get(res, 0, 0),
                       it_dbres_get(res, 0, 1));
    return it_idem_store(db, c->idem, c->resp, id);
}

static int it_comments_create(it_req_t *req, it_resp_t *resp)
{
    it_comment_create_t c;
    json_t *body;
    int rc;

    memset(&c, 0, sizeof(c));
    if ((rc = it_idem_parse(req, resp, &c.idem)) != 0
        || (rc = it_json_body(req, resp, it_comment_create_spec, &body)) != 0) {
        return rc;
    }
    c.req = req;
    c.resp = resp;
    c.body = json_string_value(json_object_get(body, "body"));
    c.parent_id = it_lower(req->pool,
                           json_string_value(json_object_get(body, "parent_id")));
    it_comment_ref_params(req->pool, req->params[0], c.ref);
    return it_req_tx(req, resp, it_comment_create_tx, &c, IT_COMMENT_TX_TRIES);
}

/* ---- GET /issues/{ref}/comments ----------------------------------------- */

/* Nests a thread's comments (path order: each after its parent) under
 * `replies`; returns the JSON text of the top-level comment. */
static const char *it_comment_tree(apr_pool_t *pool, const char *const *docs,
                                   const int *depths, int n)
{
    json_t *stack[IT_COMMENT_DEPTH_MAX + 1], *root = NULL;
    const char *out;
    char *text;
    int i;

    memset(stack, 0, sizeof(stack));
    for (i = 0; i < n; i++) {
        json_t *doc = json_loads(docs[i], 0, NULL);
        int d = depths[i];

        if (!doc || d < 0 || d > IT_COMMENT_DEPTH_MAX || (d > 0 && !stack[d - 1])) {
            json_decref(doc);              /* cannot happen: paths nest */
            continue;
        }
        json_object_set_new(doc, "replies", json_array());
        if (d == 0) {
            root = doc;
        }
        else {
            json_array_append_new(json_object_get(stack[d - 1], "replies"), doc);
        }
        stack[d] = doc;
    }
    if (!root) {
        return "null";
    }
    text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    out = apr_pstrdup(pool, text ? text : "null");
    free(text);
    return out;
}

static int it_comments_list(it_req_t *req, it_resp_t *resp)
{
    json_t *errors = NULL;
    it_page_t pg;
    const char *format = NULL, *ref[3], *params[4], *sql, *issue_id, *order;
    const char **items, **keys, **ids;
    it_db_t *db;
    it_dbres_t *res;
    int rc, n, tree, nthreads, start, k, j;

    it_query_known(req, it_comment_list_params, &errors);
    if ((rc = it_page_parse(req, resp, it_comment_sorts, "thread", &pg,
                            &errors)) != 0) {
        json_decref(errors);
        return rc;
    }
    it_query_enum(req, "format", it_comment_formats, &format, &errors);
    if (errors) {
        return it_problem_validation(resp, errors);
    }
    if (pg.include_deleted && !it_auth_allowed(req->caller, "deleted.read", 0)) {
        return it_problem(resp, 403, "forbidden",
                          "include_deleted=true is for admins only");
    }
    tree = format && !strcmp(format, "tree");
    if (!(db = it_req_db(req))) {
        return it_problem_db(resp, NULL);
    }
    it_comment_ref_params(req->pool, req->params[0], ref);
    if (it_db_exec(db, &res, it_sql_comment_issue, 3, ref) != 0) {
        return it_problem_db(resp, db);
    }
    if (res->nrows == 0 || !strcmp(it_dbres_get(res, 0, 1), "t")) {
        return it_comment_issue_not_found(resp, req->params[0]);
    }
    issue_id = it_dbres_get(res, 0, 0);

    /* One statement, so one snapshot: the page's threads (their top-level
     * comments, keyset / offset over comments_issue_path_key), then each
     * shown thread's comments in thread order, a range of the same index
     * (descendants' paths start with the thread's path and '.'). The extra
     * thread that only tells has_more gets no comments. Static fragments
     * only, chosen by the validated sort and cursor; rn bound is an int. */
    params[0] = issue_id;
    params[1] = pg.include_deleted ? "true" : "false";
    n = 2;
    if (pg.after_id) {
        params[n++] = pg.after_key;
        params[n++] = pg.after_id;
    }
    order = it_page_order_sql(req->pool, &pg, "c.id");
    sql = apr_pstrcat(req->pool,
        "WITH p AS (SELECT c.path, c.id FROM comments c"
        " WHERE c.issue_id = $1::uuid AND c.depth = 0 AND " IT_COMMENT_VISIBLE
        " AND ", it_page_keyset_sql(req->pool, &pg, "c.id", 3),
        " ", order, " ", it_page_limit_sql(req->pool, &pg), "),"
        " t AS (SELECT c.path, c.id, row_number() OVER (", order, ") AS rn"
        " FROM p c)"
        " SELECT t.path, t.id, x.doc, x.depth FROM t LEFT JOIN LATERAL ("
        "  SELECT " IT_COMMENT_DOC " AS doc, c.depth, c.path FROM comments c"
        "   WHERE t.rn <= ", apr_itoa(req->pool, pg.size),
        "     AND c.issue_id = $1::uuid AND (c.path = t.path"
        "          OR (c.path > t.path || '.' AND c.path < t.path || '/'))"
        "     AND " IT_COMMENT_VISIBLE ") x ON true"
        " ORDER BY t.rn, x.path", NULL);
    if (it_db_exec(db, &res, sql, n, params) != 0) {
        return it_problem_db(resp, db);
    }
    items = apr_pcalloc(req->pool, sizeof(*items) * (size_t)(res->nrows + 1));
    keys = apr_pcalloc(req->pool, sizeof(*keys) * (size_t)(res->nrows + 1));
    ids = apr_pcalloc(req->pool, sizeof(*ids) * (size_t)(res->nrows + 1));
    nthreads = 0;
    for (start = 0; start < res->nrows; start = k) {
        const char *thread = it_dbres_get(res, start, 1);
        const char **docs;
        int *depths, ndocs = 0;

        for (k = start + 1; k < res->nrows
             && !strcmp(it_dbres_get(res, k, 1), thread); k++) {
        }
        docs = apr_palloc(req->pool, sizeof(*docs) * (size_t)(k - start));
        depths = apr_palloc(req->pool, sizeof(*depths) * (size_t)(k - start));
        for (j = start; j < k; j++) {
            if (it_dbres_get(res, j, 2)) {
                docs[ndocs] = it_dbres_get(res, j, 2);
                depths[ndocs++] = atoi(it_dbres_get(res, j, 3));
            }
        }
        keys[nthreads] = it_dbres_get(res, start, 0);
        ids[nthreads] = thread;
        if (ndocs == 0) {
            items[nthreads] = "null";      /* the has_more thread: not shown */
        }
        else if (tree) {
            items[nthreads] = it_comment_tree(req->pool, docs, depths, ndocs);
        }
        else {
            /* the flat list: the thread's documents without brackets, so
             * the envelope's items are comments, not threads */
            struct iovec *vec = apr_palloc(req->pool, sizeof(*vec) * (size_t)(2 * ndocs));
            int v = 0;
            for (j = 0; j < ndocs; j++) {
                if (j) {
                    vec[v].iov_base = (void *)",";
                    vec[v++].iov_len = 1;
                }
                vec[v].iov_base = (void *)docs[j];
                vec[v++].iov_len = strlen(docs[j]);
            }
            items[nthreads] = apr_pstrcatv(req->pool, vec, v, NULL);
        }
        nthreads++;
    }
    return it_page_respond(req, resp, &pg, items, keys, ids, nthreads, -1);
}

/* ---- GET /comments/{id} ------------------------------------------------- */

static int it_comments_read(it_req_t *req, it_resp_t *resp)
{
    static const char *const known[] = { "include_deleted", NULL };
    const apr_array_header_t *arr = apr_table_elts(req->query);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    const char *id = req->params[0];
    json_t *errors = NULL;
    int include_deleted = 0, i;
    it_db_t *db;
    it_dbres_t *res;

    for (i = 0; i < arr->nelts; i++) {
        if (strcmp(e[i].key, known[0])) {
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
    if (it_db_exec(db, &res, it_sql_comment_get, 1, &id) != 0) {
        return it_problem_db(resp, db);
    }
    if (res->nrows == 0
        || (!include_deleted && (!strcmp(it_dbres_get(res, 0, 2), "t")
                                 || !strcmp(it_dbres_get(res, 0, 3), "t")))) {
        return it_comment_not_found(resp, id);
    }
    return it_version_respond(req, resp, 200, it_dbres_get(res, 0, 0),
                              it_dbres_get(res, 0, 1));
}

/* ---- PATCH / DELETE /comments/{id} -------------------------------------- */

typedef struct {
    it_req_t *req;
    it_resp_t *resp;
    it_precondition_t pre;
    const char *new_body;        /* PATCH */
    it_dbres_t *row;
} it_comment_write_t;

static const char *it_cl(const it_comment_write_t *w, int col)
{
    return it_dbres_get(w->row, 0, col);
}

/* Locks the comment and answers, in RFC 9110 order, 404 (also for a
 * deleted issue), 403, 409 (read-only project), 428, 412 / 409. */
static int it_comment_lock(it_db_t *db, it_comment_write_t *w,
                           const char *action)
{
    const char *params[2];
    int rc, owner;

    params[0] = w->req->params[0];
    params[1] = w->new_body;
    if (it_db_exec(db, &w->row, it_sql_comment_lock, 2, params) != 0) {
        return -1;
    }
    if (w->row->nrows == 0 || !strcmp(it_cl(w, IT_CL_DELETED), "t")
        || !strcmp(it_cl(w, IT_CL_ISSUE_DELETED), "t")) {
        return it_comment_not_found(w->resp, w->req->params[0]);
    }
    owner = !strcasecmp(it_cl(w, IT_CL_AUTHOR), w->req->caller->id);
    if ((rc = it_auth_require(w->req, w->resp, action, owner)) != 0) {
        return rc;
    }
    if (!strcmp(it_cl(w, IT_CL_PROJECT_DELETED), "t")) {
        return it_comment_project_deleted(w->resp);
    }
    if ((rc = it_version_require(w->req, w->resp, &w->pre)) != 0
        || (rc = it_version_stale(w->resp, &w->pre, it_cl(w, IT_CL_VERSION))) != 0) {
        return rc;
    }
    return 0;
}

static int it_comment_update_tx(it_db_t *db, void *ctx)
{
    it_comment_write_t *w = ctx;
    const char *params[3], *id;
    it_dbres_t *res;
    int rc;

    if ((rc = it_comment_lock(db, w, "comments.update")) != 0) {
        return rc;
    }
    id = it_cl(w, IT_CL_ID);
    if (strcmp(it_cl(w, IT_CL_BODY_CHANGED), "t")) {
        /* the same body: a no-op, same version, no event, no edited_at */
        if (it_db_exec(db, &res, it_sql_comment_doc, 1, &id) != 0) {
            return -1;
        }
        it_version_respond(w->req, w->resp, 200, it_dbres_get(res, 0, 0),
                           it_dbres_get(res, 0, 1));
        return 0;
    }
    params[0] = id;
    params[1] = it_cl(w, IT_CL_VERSION);
    params[2] = w->new_body;
    if (it_db_exec(db, &res, it_sql_comment_update, 3, params) != 0) {
        return -1;
    }
    if (res->nrows == 0) {
        /* cannot happen while we hold the row lock */
        return it_problem(w->resp, 409, "conflict",
                          "The comment changed while this request ran; retry");
    }
    if (it_event_add(db, it_cl(w, IT_CL_ISSUE), "comment_edited",
                     w->req->caller->id, it_comment_event_data(w->req->pool, id)) != 0) {
        return -1;
    }
    it_version_respond(w->req, w->resp, 200, it_dbres_get(res, 0, 0),
                       it_dbres_get(res, 0, 1));
    return 0;
}

static int it_comments_update(it_req_t *req, it_resp_t *resp)
{
    it_comment_write_t w;
    json_t *body;
    int rc;

    memset(&w, 0, sizeof(w));
    w.req = req;
    w.resp = resp;
    if ((rc = it_json_body(req, resp, it_comment_update_spec, &body)) != 0
        || (rc = it_version_precondition(req, resp, body, 0, &w.pre)) != 0) {
        return rc;
    }
    w.new_body = json_string_value(json_object_get(body, "body"));
    return it_req_tx(req, resp, it_comment_update_tx, &w, IT_COMMENT_TX_TRIES);
}

static int it_comment_delete_tx(it_db_t *db, void *ctx)
{
    it_comment_write_t *w = ctx;
    const char *params[2];
    it_dbres_t *res;
    int rc;

    if ((rc = it_comment_lock(db, w, "comments.delete")) != 0) {
        return rc;
    }
    params[0] = it_cl(w, IT_CL_ID);
    params[1] = it_cl(w, IT_CL_VERSION);
    if (it_db_exec(db, &res, it_sql_comment_delete, 2, params) != 0
        || it_event_add(db, it_cl(w, IT_CL_ISSUE), "comment_deleted",
                        w->req->caller->id,
                        it_comment_event_data(w->req->pool, params[0])) != 0) {
        return -1;
    }
    w->resp->status = 204;
    return 0;
}

static int it_comments_delete(it_req_t *req, it_resp_t *resp)
{
    it_comment_write_t w;
    json_t *body = NULL;
    int rc;

    memset(&w, 0, sizeof(w));
    w.req = req;
    w.resp = resp;
    if (req->content_length > 0
        || (req->headers && apr_table_get(req->headers, "Transfer-Encoding"))) {
        if ((rc = it_json_body(req, resp, it_comment_version_spec, &body)) != 0) {
            return rc;
        }
    }
    if ((rc = it_version_precondition(req, resp, body, 0, &w.pre)) != 0) {
        return rc;
    }
    return it_req_tx(req, resp, it_comment_delete_tx, &w, IT_COMMENT_TX_TRIES);
}

static const it_route_t it_comments_routes[] = {
    { "POST",   IT_API_BASE "/issues/{ref}/comments", it_comments_create, "comments.create", 0 },
    { "GET",    IT_API_BASE "/issues/{ref}/comments", it_comments_list,   "comments.read",   0 },
    { "GET",    IT_COMMENTS_PATH "/{id}",             it_comments_read,   "comments.read",   0 },
    { "PATCH",  IT_COMMENTS_PATH "/{id}",             it_comments_update, "comments.update", 0 },
    { "DELETE", IT_COMMENTS_PATH "/{id}",             it_comments_delete, "comments.delete", 0 },
    { NULL, NULL, NULL, NULL, 0 }
};

const it_resource_t it_res_comments = { "comments", it_comments_routes };
