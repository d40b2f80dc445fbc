/*
 * it_res_issues.c -- one issue: create, read, edit (fields, workflow,
 * assignment), soft delete, restore, and the transitions open to the caller.
 *
 *   POST   /api/v1/issues                    create (Idempotency-Key aware)
 *   GET    /api/v1/issues/{ref}              read by id or key (PROJ-42)
 *   PATCH  /api/v1/issues/{ref}              edit; status follows it_workflow
 *   DELETE /api/v1/issues/{ref}              soft delete (manager+)
 *   POST   /api/v1/issues/{ref}/restore      undo a delete (admin)
 *   GET    /api/v1/issues/{ref}/transitions  targets this caller may move to
 *
 * (The list GET /api/v1/issues lives in it_res_issues_list.c.)
 *
 * Every write is one transaction (it_db_tx): the change, its timeline
 * events (it_events) and the version bump commit together. Writes to an
 * existing issue first lock its row (SELECT ... FOR NO KEY UPDATE, the lock
 * an UPDATE itself takes) to decide permissions, the precondition, the
 * transition and the events on the current values, then run one
 * UPDATE ... WHERE id AND version ... RETURNING. Concurrent writers with the
 * same If-Match queue on the lock; the first changes the version, the
 * others then read the new version and get 412.
 *
 * Decisions DESIGN.md leaves open are documented with the Issues
 * operations in docs/openapi.yaml.
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
#include "it_workflow.h"

#define IT_ISSUES_PATH IT_API_BASE "/issues"
/* bytes, as issues_description_check (the validator counts characters) */
#define IT_ISSUE_DESCRIPTION_MAX 65536
/* Serialization failures and deadlocks are retried this often. */
#define IT_ISSUE_TX_TRIES 3
/* label_ids: as many as PUT /issues/{ref}/labels takes */
#define IT_ISSUE_LABELS_MAX 100

/* The document of GET, where admins may see deleted issues: those carry
 * is_deleted and deleted_at, live ones exactly IT_ISSUE_JSON_SQL. */

#define IT_ISSUE_FROM " FROM issues i JOIN projects p ON p.id = i.project_id"

static const char *const it_issue_priorities[] = {
    "low", "medium", "high", "critical", NULL
};
static const char *const it_issue_types[] = { "bug", "feature", "task", NULL };

/* ---- SQL ---------------------------------------------------------------- */

static const char it_sql_issue_get[] =
    "SELECT " IT_ISSUE_DOC_ANY ", i.version, i.is_deleted" IT_ISSUE_FROM
    " WHERE " IT_ISSUE_REF_WHERE;

static const char it_sql_issue_doc[] =
    "SELECT " IT_ISSUE_JSON_SQL ", i.version" IT_ISSUE_FROM
    " WHERE i.id = $1::uuid";

/* The number comes from the project row, updated (and so locked) for the
 * rest of the transaction: creators in one project queue there, creators
 * in different projects do not meet. A rollback returns the number, so
 * numbers have no gaps. $1 project, $2 title, $3 description, $4 priority,
 * $5 type, $6 creator, $7 assignee (NULL: none). No row: the project is
 * missing or deleted, or a user is not active (it_sql_issue_create_why). */
static const char it_sql_issue_create[] =
    "WITH n AS ("
    "  UPDATE projects SET next_number = next_number + 1"
    "   WHERE id = $1::uuid AND NOT is_deleted"
    "   RETURNING id, key, next_number - 1 AS number),"
    " i AS ("
    "  INSERT INTO issues (project_id, number, title, description, priority,"
    "                      type, creator_id, assignee_id)"
    "  SELECT n.id, n.number, $2, $3, $4, $5, $6::uuid, $7::uuid FROM n"
    "   WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = $6::uuid"
    "                    AND u.is_active AND NOT u.is_deleted)"
    "     AND ($7::uuid IS NULL OR EXISTS (SELECT 1 FROM users u"
    "          WHERE u.id = $7::uuid AND u.is_active AND NOT u.is_deleted))"
    "  RETURNING *)"
    " SELECT " IT_ISSUE_JSON_SQL ", i.version, i.id FROM i JOIN n p ON p.id = i.project_id";

/* $1 project, $2 creator, $3 assignee (NULL: none) */
static const char it_sql_issue_create_why[] =
    "SELECT EXISTS (SELECT 1 FROM projects WHERE id = $1::uuid AND NOT is_deleted),"
    "       EXISTS (SELECT 1 FROM users u WHERE u.id = $2::uuid"
    "                  AND u.is_active AND NOT u.is_deleted),"
    "       $3::uuid IS NULL OR EXISTS (SELECT 1 FROM users u"
    "          WHERE u.id = $3::uuid AND u.is_active AND NOT u.is_deleted)";

/* The row every write to an existing issue starts with, locked. $1-$3 the
 * reference, $4 a new description (NULL: none) compared here so that the
 * 64 KiB text is not shipped back just to be compared. */
enum {
    IT_LK_ID, IT_LK_VERSION, IT_LK_DELETED, IT_LK_PROJECT_DELETED,
    IT_LK_CREATOR, IT_LK_STATUS, IT_LK_TITLE, IT_LK_PRIORITY, IT_LK_TYPE,
    IT_LK_ASSIGNEE, IT_LK_DESC_CHANGED
};
static const char it_sql_issue_lock[] =
    "SELECT i.id, i.version, i.is_deleted, p.is_deleted, i.creator_id, i.status,"
    "       i.title, i.priority, i.type, i.assignee_id,"
    "       ($4::text IS NOT NULL AND $4::text IS DISTINCT FROM i.description)"
    IT_ISSUE_FROM
    " WHERE " IT_ISSUE_REF_WHERE
    " FOR NO KEY UPDATE OF i";

static const char it_sql_user_active[] =
    "SELECT 1 FROM users u WHERE u.id = $1::uuid AND u.is_active AND NOT u.is_deleted";

/* $1 id, $2 the locked version; $3-$6 title, description, priority, type,
 * $8 assignee when $7, $9 status: NULL = unchanged. resolved_at is set
 * on resolving and cleared when the issue goes back to work (open,
 * in_progress); closed_at likewise, so resolved -> closed keeps both. */
static const char it_sql_issue_update[] =
    "UPDATE issues i SET"
    " title = COALESCE($3::text, i.title),"
    " description = COALESCE($4::text, i.description),"
    " priority = COALESCE($5::text, i.priority),"
    " type = COALESCE($6::text, i.type),"
    " assignee_id = CASE WHEN $7::boolean THEN $8::uuid ELSE i.assignee_id END,"
    " status = COALESCE($9::text, i.status),"
    " resolved_at = CASE WHEN $9::text = 'resolved' THEN now()"
    "                    WHEN $9::text IN ('open', 'in_progress') THEN NULL"
    "                    ELSE i.resolved_at END,"
    " closed_at = CASE WHEN $9::text = 'closed' THEN now()"
    "                  WHEN $9::text IN ('open', 'in_progress') THEN NULL"
    "                  ELSE i.closed_at END,"
    " version = i.version + 1, updated_at = now()"
    " FROM projects p"
    " WHERE i.id = $1::uuid AND i.version = $2::int AND p.id = i.project_id"
    " RETURNING " IT_ISSUE_JSON_SQL ", i.version";

static const char it_sql_issue_delete[] =
    "UPDATE issues i SET is_deleted = true, deleted_at = now(),"
    " version = i.version + 1, updated_at = now()"
    " WHERE i.id = $1::uuid AND i.version = $2::int AND NOT i.is_deleted";

static const char it_sql_issue_restore[] =
    "UPDATE issues i SET is_deleted = false, deleted_at = NULL,"
    " version = i.version + 1, updated_at = now()"
    " FROM projects p"
    " WHERE i.id = $1::uuid AND i.version = $2::int AND i.is_deleted"
    "   AND p.id = i.project_id"
    " RETURNING " IT_ISSUE_JSON_SQL ", i.version";

static const char it_sql_issue_transitions[] =
    "SELECT i.status, i.creator_id, i.is_deleted, p.is_deleted" IT_ISSUE_FROM
    " WHERE " IT_ISSUE_REF_WHERE;

/* label_ids on create / PATCH: the same set semantics as
 * PUT /issues/{ref}/labels (it_res_labels.c). The labels are locked
 * FOR SHARE so that a concurrent label delete cannot slip in between. */
static const char it_sql_issue_labels_lock[] =
    "SELECT l.id FROM labels l WHERE l.id = ANY($1::uuid[]) AND NOT l.is_deleted"
    " ORDER BY l.id FOR SHARE";

static const char it_sql_issue_labels_missing[] =
    "SELECT x::text FROM unnest($1::uuid[]) x"
    " WHERE NOT EXISTS (SELECT 1 FROM labels l WHERE l.id = x AND NOT l.is_deleted)"
    " ORDER BY 1";

/* $1 issue, $2 the wanted set: does the set change? */
static const char it_sql_issue_labels_differ[] =
    "SELECT COALESCE((SELECT array_agg(il.label_id ORDER BY il.label_id)"
    "                   FROM issue_labels il WHERE il.issue_id = $1::uuid), '{}')"
    " IS DISTINCT FROM"
    " COALESCE((SELECT array_agg(DISTINCT x ORDER BY x) FROM unnest($2::uuid[]) x), '{}')";

static const char it_sql_issue_labels_unset[] =
    "WITH d AS (DELETE FROM issue_labels il WHERE il.issue_id = $1::uuid"
    "           AND il.label_id <> ALL($2::uuid[]) RETURNING il.label_id)"
    " SELECT l.id, l.name FROM d JOIN labels l ON l.id = d.label_id"
    " ORDER BY l.name, l.id";

static const char it_sql_issue_labels_set[] =
    "WITH a AS (INSERT INTO issue_labels (issue_id, label_id)"
    "           SELECT $1::uuid, x FROM unnest($2::uuid[]) x"
    "           ON CONFLICT DO NOTHING RETURNING label_id)"
    " SELECT l.id, l.name FROM a JOIN labels l ON l.id = a.label_id"
    " ORDER BY l.name, l.id";

/* ---- field tables ------------------------------------------------------- */

static const char *it_issue_title_check(const char *v)
{
    for (; *v; v++) {
        if (!apr_isspace(*v)) {
            return NULL;
        }
    }
    return "must not be blank";
}

static const it_field_t it_issue_create_spec[] = {
    { "project_id",  IT_JT_UUID,   IT_F_REQUIRED, 0, 0, NULL, NULL },
    { "title",       IT_JT_STRING, IT_F_REQUIRED, 1, 200, NULL, it_issue_title_check },
    { "description", IT_JT_STRING, IT_F_NULLABLE, 0, IT_ISSUE_DESCRIPTION_MAX, NULL, NULL },
    { "priority",    IT_JT_ENUM,   0, 0, 0, it_issue_priorities, NULL },
    { "type",        IT_JT_ENUM,   0, 0, 0, it_issue_types, NULL },
    { "assignee_id", IT_JT_UUID,   IT_F_NULLABLE, 0, 0, NULL, NULL },
    { "creator_id",  IT_JT_UUID,   IT_F_NULLABLE, 0, 0, NULL, NULL },
    { "label_ids",   IT_JT_UUID_ARRAY, 0, 0, IT_ISSUE_LABELS_MAX, NULL, NULL },
    { NULL,          IT_JT_STRING, 0, 0, 0, NULL, NULL }
};

static const it_field_t it_issue_update_spec[] = {
    { "title",       IT_JT_STRING, 0, 1, 200, NULL, it_issue_title_check },
    { "description", IT_JT_STRING, IT_F_NULLABLE, 0, IT_ISSUE_DESCRIPTION_MAX, NULL, NULL },
    { "priority",    IT_JT_ENUM,   0, 0, 0, it_issue_priorities, NULL },
    { "type",        IT_JT_ENUM,   0, 0, 0, it_issue_types, NULL },
    { "assignee_id", IT_JT_UUID,   IT_F_NULLABLE, 0, 0, NULL, NULL },
    { "status",      IT_JT_ENUM,   0, 0, 0, it_statuses, NULL },
    { "label_ids",   IT_JT_UUID_ARRAY, 0, 0, IT_ISSUE_LABELS_MAX, NULL, NULL },
    { "version",     IT_JT_INT,    0, 1, INT_MAX, NULL, NULL },
    { NULL,          IT_JT_STRING, 0, 0, 0, NULL, NULL }
};

/* DELETE and restore: an optional body carries only the version. */
static const it_field_t it_issue_version_spec[] = {
    { "version", IT_JT_INT, 0, 1, INT_MAX, NULL, NULL },
    { NULL,      IT_JT_STRING, 0, 0, 0, NULL, NULL }
};

/* The fields a PATCH may change: the action a change needs, where the
 * current value is (column of it_sql_issue_lock; description is compared
 * by that query), where the new one goes (0-based parameter of
 * it_sql_issue_update), and whether the timeline records the values
 * (not for the description: 64 KiB twice per edit). */
typedef struct {
    const char *field;
    const char *action;
    int lock_col;
    int param;
    int with_values;
} it_issue_field_t;

static const it_issue_field_t it_issue_fields[] = {
    { "status",      "issues.transition", IT_LK_STATUS,       8, 1 },
    { "assignee_id", "issues.assign",     IT_LK_ASSIGNEE,     7, 1 },
    { "title",       "issues.update",     IT_LK_TITLE,        2, 1 },
    { "description", "issues.update",     IT_LK_DESC_CHANGED, 3, 0 },
    { "priority",    "issues.update",     IT_LK_PRIORITY,     4, 1 },
    { "type",        "issues.update",     IT_LK_TYPE,         5, 1 },
    { NULL, NULL, 0, 0, 0 }
};

#define IT_ISSUE_NFIELDS (sizeof(it_issue_fields) / sizeof(it_issue_fields[0]) - 1)

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

/* $1-$3 of IT_ISSUE_REF_WHERE from a {ref} (the router checked its shape). */
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

static int it_issue_not_found(it_resp_t *resp, const char *ref)
{
    return it_problem(resp, 404, "not_found", "No issue %s", ref);
}

/* The field table counts characters; the column limit is in bytes. */
static int it_issue_check_bytes(it_resp_t *resp, json_t *body)
{
    json_t *d = json_object_get(body, "description");

    if (json_is_string(d) && json_string_length(d) > IT_ISSUE_DESCRIPTION_MAX) {
        return it_problem_validation(resp, it_problem_error_add(NULL,
                   "description", "too_long",
                   "must be at most 65536 bytes of UTF-8"));
    }
    return 0;
}

static int it_issue_project_deleted(it_resp_t *resp)
{
    return it_problem(resp, 409, "project_deleted",
                      "The issue's project is deleted: its issues are read-only "
                      "until an admin restores the project");
}

/* DELETE and restore may name the version in a JSON body. */
static int it_issue_optional_body(it_req_t *req, it_resp_t *resp, json_t **body)
{
    *body = NULL;
    if (req->content_length > 0
        || (req->headers && apr_table_get(req->headers, "Transfer-Encoding"))) {
        return it_json_body(req, resp, it_issue_version_spec, body);
    }
    return 0;
}

static int it_issue_is_owner(const it_req_t *req, const char *creator_id)
{
    return creator_id && req->caller && !strcasecmp(creator_id, req->caller->id);
}

/* The uuid[] literal of a validated label_ids array; NULL when absent. */
static const char *it_issue_label_ids(apr_pool_t *pool, json_t *body)
{
    json_t *ids = json_object_get(body, "label_ids");
    const char *out = "{";
    size_t i;

    if (!json_is_array(ids)) {
        return NULL;
    }
    for (i = 0; i < json_array_size(ids); i++) {
        out = apr_pstrcat(pool, out, i ? "," : "",
                          it_lower(pool, json_string_value(json_array_get(ids, i))),
                          NULL);
    }
    return apr_pstrcat(pool, out, "}", NULL);
}

/* Makes `ids` the issue's label set: 422 (label_ids, not_found) when one
 * names no live label; appends the unlabeled / labeled events {label_id,
 * name} to *events. Returns 0, a problem status, or -1. */
static int it_issue_labels_replace(it_db_t *db, it_resp_t *resp,
                                   const char *issue_id, const char *ids,
                                   json_t **events)
{
    static const char *const kinds[2] = { "unlabeled", "labeled" };
    const char *const sqls[2] = { it_sql_issue_labels_unset, it_sql_issue_labels_set };
    const char *params[2];
    it_dbres_t *res;
    int i, k;

    if (it_db_exec(db, NULL, it_sql_issue_labels_lock, 1, &ids) != 0
        || it_db_exec(db, &res, it_sql_issue_labels_missing, 1, &ids) != 0) {
        return -1;
    }
    if (res->nrows > 0) {
        json_t *errors = NULL;
        for (i = 0; i < res->nrows; i++) {
            errors = it_problem_error_add(errors, "label_ids", "not_found",
                         apr_psprintf(resp->pool, "no label with id %s",
                                      it_dbres_get(res, i, 0)));
        }
        return it_problem_validation(resp, errors);
    }
    params[0] = issue_id;
    params[1] = ids;
    for (k = 0; k < 2; k++) {
        if (it_db_exec(db, &res, sqls[k], 2, params) != 0) {
            return -1;
        }
        for (i = 0; i < res->nrows; i++) {
            *events = it_event_push(*events, kinds[k],
                          json_pack("{s:s, s:s}", "label_id", it_dbres_get(res, i, 0),
                                    "name", it_dbres_get(res, i, 1)));
        }
    }
    return 0;
}

/* ---- POST /issues ------------------------------------------------------- */

typedef struct {
    it_req_t *req;
    it_resp_t *resp;
    it_idem_t *idem;
    const char *params[7];
    const char *label_ids;       /* uuid[] literal; NULL: none given */
} it_issue_create_t;

/* The create found no project or user to attach the issue to: say which. */
static int it_issue_create_failed(it_db_t *db, it_issue_create_t *c)
{
    it_dbres_t *res;
    json_t *errors = NULL;
    const char *params[3];

    params[0] = c->params[0];
    params[1] = c->params[5];
    params[2] = c->params[6];
    if (it_db_exec(db, &res, it_sql_issue_create_why, 3, params) != 0) {
        return -1;
    }
    if (strcmp(it_dbres_get(res, 0, 0), "t")) {
        errors = it_problem_error_add(errors, "project_id", "not_found",
                                      "must be an existing project that is not deleted");
    }
    if (strcmp(it_dbres_get(res, 0, 1), "t")) {
        errors = it_problem_error_add(errors, "creator_id", "not_found",
                                      "must be an active user");
    }
    if (strcmp(it_dbres_get(res, 0, 2), "t")) {
        errors = it_problem_error_add(errors, "assignee_id", "not_found",
                                      "must be an active user");
    }
    if (!errors) {
        /* everything exists now: deleted and restored meanwhile */
        return it_problem(c->resp, 409, "conflict",
                          "The project or a user changed while the issue was "
                          "being created; retry");
    }
    return it_problem_validation(c->resp, errors);
}

static int it_issue_create_tx(it_db_t *db, void *ctx)
{
    it_issue_create_t *c = ctx;
    it_dbres_t *res;
    json_t *events;
    const char *id;
    int rc;

    if ((rc = it_idem_begin(db, c->idem, c->resp)) != 0) {
        return rc;
    }
    if (it_db_exec(db, &res, it_sql_issue_create, 7, c->params) != 0) {
        return -1;
    }
    if (res->nrows == 0) {
        return it_issue_create_failed(db, c);
    }
    id = it_dbres_get(res, 0, 2);
    events = it_event_push(NULL, "created", NULL);
    if (c->params[6]) {
        events = it_event_push(events, "assigned",
                               it_event_from_to(NULL, c->params[6]));
    }
    /* labels are part of the creation: version 1, labeled events */
    if (c->label_ids
        && (rc = it_issue_labels_replace(db, c->resp, id, c->label_ids, &events)) != 0) {
        json_decref(events);
        return rc;
    }
    rc = it_events_add(db, id, c->req->caller->id, events);
    json_decref(events);
    if (rc != 0) {
        return -1;
    }
    /* the INSERT's RETURNING ran before the labels existed */
    if (c->label_ids && it_db_exec(db, &res, it_sql_issue_doc, 1, &id) != 0) {
        return -1;
    }
    apr_table_setn(c->resp->headers, "Location",
                   apr_pstrcat(c->req->pool, IT_ISSUES_PATH "/", id, NULL));
    it_version_respond(c->req, c->resp, 201, it_dbres_get(res, 0, 0),
                       it_dbres_get(res, 0, 1));
    return it_idem_store(db, c->idem, c->resp, id);
}

static int it_issues_create(it_req_t *req, it_resp_t *resp)
{
    it_issue_create_t c;
    json_t *body, *v;
    const char *creator, *assignee;
    int rc;

    memset(&c, 0, sizeof(c));
    if ((rc = it_idem_parse(req, resp, &c.idem)) != 0
        || (rc = it_json_body(req, resp, it_issue_create_spec, &body)) != 0
        || (rc = it_issue_check_bytes(resp, body)) != 0) {
        return rc;
    }
    creator = it_json_str(body, "creator_id");
    if (creator && strcasecmp(creator, req->caller->id)
        && req->caller->role < IT_ROLE_ADMIN) {
        return it_problem(resp, 403, "creator_mismatch",
                          "creator_id must be your own id: only an admin may "
                          "create an issue on behalf of someone else");
    }
    assignee = it_json_str(body, "assignee_id");
    if (assignee && (rc = it_auth_require(req, resp, "issues.assign", 0)) != 0) {
        return rc;
    }
    c.label_ids = it_issue_label_ids(req->pool, body);
    if (c.label_ids && strcmp(c.label_ids, "{}")
        && (rc = it_auth_require(req, resp, "issues.label", 0)) != 0) {
        return rc;
    }
    if (c.label_ids && !strcmp(c.label_ids, "{}")) {
        c.label_ids = NULL;                     /* no labels: nothing to do */
    }
    c.req = req;
    c.resp = resp;
    c.params[0] = it_json_str(body, "project_id");
    c.params[1] = it_json_str(body, "title");
    v = json_object_get(body, "description");
    c.params[2] = json_is_string(v) ? json_string_value(v) : "";
    c.params[3] = (v = json_object_get(body, "priority")) ? json_string_value(v) : "medium";
    c.params[4] = (v = json_object_get(body, "type")) ? json_string_value(v) : "task";
    /* ids are stored lowercase; events and comparisons use the same form */
    c.params[5] = creator ? it_lower(req->pool, creator) : req->caller->id;
    c.params[6] = it_lower(req->pool, assignee);
    return it_req_tx(req, resp, it_issue_create_tx, &c, IT_ISSUE_TX_TRIES);
}

/* ---- GET /issues/{ref} -------------------------------------------------- */

/* Only include_deleted is accepted (admins: deleted.read). */
static int it_issue_read_query(it_req_t *req, it_resp_t *resp,
                               int *include_deleted)
{
    const apr_array_header_t *arr = apr_table_elts(req->query);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    json_t *errors = NULL;
    int i;

    *include_deleted = 0;
    for (i = 0; i < arr->nelts; i++) {
        if (strcmp(e[i].key, "include_deleted")) {
            errors = it_problem_error_add(errors, e[i].key, "unknown_parameter",
                                          "is not a known parameter");
        }
    }
    it_query_bool(req, "include_deleted", include_deleted, &errors);
    if (errors) {
        return it_problem_validation(resp, errors);
    }
    if (*include_deleted && !it_auth_allowed(req->caller, "deleted.read", 0)) {
        return it_problem(resp, 403, "forbidden",
                          "include_deleted=true is for admins only");
    }
    return 0;
}

static int it_issues_read(it_req_t *req, it_resp_t *resp)
{
    const char *params[3];
    it_db_t *db;
    it_dbres_t *res;
    int include_deleted, rc;

    if ((rc = it_issue_read_query(req, resp, &include_deleted)) != 0) {
        return rc;
    }
    if (!(db = it_req_db(req))) {
        return it_problem_db(resp, NULL);
    }
    it_issue_ref_params(req->pool, req->params[0], params);
    if (it_db_exec(db, &res, it_sql_issue_get, 3, params) != 0) {
        return it_problem_db(resp, db);
    }
    if (res->nrows == 0 || (!include_deleted && !strcmp(it_dbres_get(res, 0, 2), "t"))) {
        return it_issue_not_found(resp, req->params[0]);
    }
    return it_version_respond(req, resp, 200, it_dbres_get(res, 0, 0),
                              it_dbres_get(res, 0, 1));
}

/* ---- the locked row of a write ----------------------------------------- */

typedef struct {
    it_req_t *req;
    it_resp_t *resp;
    json_t *body;                /* PATCH: the validated body */
    it_precondition_t pre;
    const char *ref[3];
    const char *new_description; /* PATCH: compared by the lock query */
    const char *label_ids;       /* PATCH: uuid[] literal; NULL: not given */
    it_dbres_t *row;             /* the locked row */
} it_issue_write_t;

/* Locks the issue. Returns 0 (w->row set) or a problem status / -1. A
 * deleted issue is 404 unless `want_deleted` (restore). */
static int it_issue_lock(it_db_t *db, it_issue_write_t *w, int want_deleted)
{
    const char *params[4];

    params[0] = w->ref[0];
    params[1] = w->ref[1];
    params[2] = w->ref[2];
    params[3] = w->new_description;
    if (it_db_exec(db, &w->row, it_sql_issue_lock, 4, params) != 0) {
        return -1;
    }
    if (w->row->nrows == 0
        || (!want_deleted && !strcmp(it_dbres_get(w->row, 0, IT_LK_DELETED), "t"))) {
        return it_issue_not_found(w->resp, w->req->params[0]);
    }
    return 0;
}

static const char *it_lk(const it_issue_write_t *w, int col)
{
    return it_dbres_get(w->row, 0, col);
}

/* ---- PATCH /issues/{ref} ------------------------------------------------ */

/* 1 if the body sets f to something other than its current value. */
static int it_issue_changes(const it_issue_write_t *w, const it_issue_field_t *f)
{
    json_t *v = json_object_get(w->body, f->field);
    const char *cur = it_lk(w, f->lock_col), *want;

    if (!v) {
        return 0;
    }
    if (!f->with_values) {
        return !strcmp(cur, "t");                /* compared by the lock */
    }
    want = json_string_value(v);
    if (!cur || !want) {
        return cur != want;
    }
    /* ids compare case-insensitively, text exactly */
    return f->lock_col == IT_LK_ASSIGNEE ? strcasecmp(cur, want) != 0
                                         : strcmp(cur, want) != 0;
}

static int it_issue_invalid_transition(it_resp_t *resp, const char *from,
                                       const char *to)
{
    const char *targets[8];
    int n = it_workflow_targets(from, targets, 8), i;
    json_t *allowed = json_array();
    const char *list = NULL;

    for (i = 0; i < n; i++) {
        json_array_append_new(allowed, json_string(targets[i]));
        list = list ? apr_pstrcat(resp->pool, list, ", ", targets[i], NULL)
                    : targets[i];
    }
    it_problem(resp, 409, "invalid_transition",
               "An issue cannot move from %s to %s; from %s it may move to: %s",
               from, to, from, list ? list : "nothing");
    it_problem_set(resp, "allowed", allowed);
    return 409;
}

static int it_issue_update_tx(it_db_t *db, void *ctx)
{
    it_issue_write_t *w = ctx;
    it_req_t *req = w->req;
    const it_issue_field_t *f;
    const char *params[9], *id, *actor = req->caller->id;
    json_t *events = NULL;
    it_dbres_t *res;
    int changed[IT_ISSUE_NFIELDS], nchanged = 0, owner, rc, k, labels_changed = 0;

    if ((rc = it_issue_lock(db, w, 0)) != 0) {
        return rc;
    }
    id = it_lk(w, IT_LK_ID);
    owner = it_issue_is_owner(req, it_lk(w, IT_LK_CREATOR));
    /* Only the fields that really change need their permission: a client
     * may send back the whole document with one field edited. */
    for (f = it_issue_fields, k = 0; f->field; f++, k++) {
        changed[k] = it_issue_changes(w, f);
        nchanged += changed[k];
        if (changed[k] && (rc = it_auth_require(req, w->resp, f->action, owner)) != 0) {
            return rc;
        }
    }
    if (w->label_ids) {
        const char *lp[2];
        lp[0] = id;
        lp[1] = w->label_ids;
        if (it_db_exec(db, &res, it_sql_issue_labels_differ, 2, lp) != 0) {
            return -1;
        }
        labels_changed = !strcmp(it_dbres_get(res, 0, 0), "t");
        nchanged += labels_changed;
        if (labels_changed
            && (rc = it_auth_require(req, w->resp, "issues.label", owner)) != 0) {
            return rc;
        }
    }
    if (!strcmp(it_lk(w, IT_LK_PROJECT_DELETED), "t")) {
        return it_issue_project_deleted(w->resp);
    }
    if ((rc = it_version_require(req, w->resp, &w->pre)) != 0
        || (rc = it_version_stale(w->resp, &w->pre, it_lk(w, IT_LK_VERSION))) != 0) {
        return rc;
    }
    if (nchanged == 0) {
        /* a no-op: same version, no event */
        if (it_db_exec(db, &res, it_sql_issue_doc, 1, &id) != 0) {
            return -1;
        }
        it_version_respond(req, w->resp, 200, it_dbres_get(res, 0, 0),
                           it_dbres_get(res, 0, 1));
        return 0;
    }
    memset(params, 0, sizeof(params));
    params[0] = id;
    params[1] = it_lk(w, IT_LK_VERSION);
    for (f = it_issue_fields, k = 0; f->field; f++, k++) {
        const char *from, *to;
        json_t *data;

        if (!changed[k]) {
            continue;
        }
        from = it_lk(w, f->lock_col);
        to = it_json_str(w->body, f->field);
        if (f->lock_col == IT_LK_STATUS) {
            if (!it_workflow_allowed(from, to)) {
                json_decref(events);
                return it_issue_invalid_transition(w->resp, from, to);
            }
            params[f->param] = to;
            events = it_event_push(events, "status_changed", it_event_from_to(from, to));
        }
        else if (f->lock_col == IT_LK_ASSIGNEE) {
            to = it_lower(req->pool, to);
            if (to) {
                it_dbres_t *u;
                if (it_db_exec(db, &u, it_sql_user_active, 1, &to) != 0) {
                    json_decref(events);
                    return -1;
                }
                if (u->nrows == 0) {
                    json_decref(events);
                    return it_problem_validation(w->resp, it_problem_error_add(
                               NULL, "assignee_id", "not_found",
                               "must be an active user"));
                }
            }
            params[f->param - 1] = "true";
            params[f->param] = to;
            events = it_event_push(events, "assigned", it_event_from_to(from, to));
        }
        else {
            params[f->param] = f->with_values ? to : w->new_description;
            data = f->with_values ? it_event_from_to(from, to) : json_object();
            json_object_set_new(data, "field", json_string(f->field));
            events = it_event_push(events, "field_changed", data);
        }
    }
    if (!params[6]) {
        params[6] = "false";
        params[7] = NULL;
    }
    if (labels_changed
        && (rc = it_issue_labels_replace(db, w->resp, id, w->label_ids, &events)) != 0) {
        json_decref(events);
        return rc;
    }
    if (it_db_exec(db, &res, it_sql_issue_update, 9, params) != 0
        || (res->nrows == 1 && it_events_add(db, id, actor, events) != 0)) {
        json_decref(events);
        return -1;
    }
    json_decref(events);
    if (res->nrows == 0) {
        /* cannot happen while we hold the row lock */
        return it_problem(w->resp, 409, "conflict",
                          "The issue changed while this request ran; retry");
    }
    it_version_respond(req, w->resp, 200, it_dbres_get(res, 0, 0),
                       it_dbres_get(res, 0, 1));
    return 0;
}

static int it_issues_update(it_req_t *req, it_resp_t *resp)
{
    it_issue_write_t w;
    json_t *d;
    int rc;

    memset(&w, 0, sizeof(w));
    w.req = req;
    w.resp = resp;
    if ((rc = it_json_body(req, resp, it_issue_update_spec, &w.body)) != 0
        || (rc = it_issue_check_bytes(resp, w.body)) != 0
        || (rc = it_version_precondition(req, resp, w.body, 0, &w.pre)) != 0) {
        return rc;
    }
    /* null clears the description (the column holds "" for none) */
    d = json_object_get(w.body, "description");
    if (d) {
        w.new_description = json_is_string(d) ? json_string_value(d) : "";
        if (json_is_null(d)) {
            json_object_set_new(w.body, "description", json_string(""));
        }
    }
    w.label_ids = it_issue_label_ids(req->pool, w.body);
    it_issue_ref_params(req->pool, req->params[0], w.ref);
    return it_req_tx(req, resp, it_issue_update_tx, &w, IT_ISSUE_TX_TRIES);
}

/* ---- DELETE /issues/{ref} ----------------------------------------------- */

static int it_issue_delete_tx(it_db_t *db, void *ctx)
{
    it_issue_write_t *w = ctx;
    const char *params[2];
    it_dbres_t *res;
    int rc;

    if ((rc = it_issue_lock(db, w, 0)) != 0) {
        return rc;
    }
    if ((rc = it_auth_require(w->req, w->resp, "issues.delete",
                              it_issue_is_owner(w->req, it_lk(w, IT_LK_CREATOR)))) != 0) {
        return rc;
    }
    if (!strcmp(it_lk(w, IT_LK_PROJECT_DELETED), "t")) {
        return it_issue_project_deleted(w->resp);
    }
    if ((rc = it_version_require(w->req, w->resp, &w->pre)) != 0
        || (rc = it_version_stale(w->resp, &w->pre, it_lk(w, IT_LK_VERSION))) != 0) {
        return rc;
    }
    params[0] = it_lk(w, IT_LK_ID);
    params[1] = it_lk(w, IT_LK_VERSION);
    if (it_db_exec(db, &res, it_sql_issue_delete, 2, params) != 0
        || it_event_add(db, params[0], "deleted", w->req->caller->id, NULL) != 0) {
        return -1;
    }
    w->resp->status = 204;
    return 0;
}

static int it_issues_delete(it_req_t *req, it_resp_t *resp)
{
    it_issue_write_t w;
    json_t *body;
    int rc;

    memset(&w, 0, sizeof(w));
    w.req = req;
    w.resp = resp;
    if ((rc = it_issue_optional_body(req, resp, &body)) != 0
        || (rc = it_version_precondition(req, resp, body, 0, &w.pre)) != 0) {
        return rc;
    }
    it_issue_ref_params(req->pool, req->params[0], w.ref);
    return it_req_tx(req, resp, it_issue_delete_tx, &w, IT_ISSUE_TX_TRIES);
}

/* ---- POST /issues/{ref}/restore ----------------------------------------- */

/* No precondition required (DESIGN.md section 4); a given one is honoured. */
static int it_issue_restore_tx(it_db_t *db, void *ctx)
{
    it_issue_write_t *w = ctx;
    const char *params[2];
    it_dbres_t *res;
    int rc;

    if ((rc = it_issue_lock(db, w, 1)) != 0) {
        return rc;
    }
    if (strcmp(it_lk(w, IT_LK_DELETED), "t")) {
        return it_problem(w->resp, 409, "not_deleted",
                          "Issue %s is not deleted; there is nothing to restore",
                          w->req->params[0]);
    }
    if (!strcmp(it_lk(w, IT_LK_PROJECT_DELETED), "t")) {
        return it_issue_project_deleted(w->resp);
    }
    if ((rc = it_version_stale(w->resp, &w->pre, it_lk(w, IT_LK_VERSION))) != 0) {
        return rc;
    }
    params[0] = it_lk(w, IT_LK_ID);
    params[1] = it_lk(w, IT_LK_VERSION);
    if (it_db_exec(db, &res, it_sql_issue_restore, 2, params) != 0
        || it_event_add(db, params[0], "restored", w->req->caller->id, NULL) != 0) {
        return -1;
    }
    it_version_respond(w->req, w->resp, 200, it_dbres_get(res, 0, 0),
                       it_dbres_get(res, 0, 1));
    return 0;
}

static int it_issues_restore(it_req_t *req, it_resp_t *resp)
{
    it_issue_write_t w;
    json_t *body;
    int rc;

    memset(&w, 0, sizeof(w));
    w.req = req;
    w.resp = resp;
    if ((rc = it_issue_optional_body(req, resp, &body)) != 0
        || (rc = it_version_precondition(req, resp, body, 0, &w.pre)) != 0) {
        return rc;
    }
    it_issue_ref_params(req->pool, req->params[0], w.ref);
    return it_req_tx(req, resp, it_issue_restore_tx, &w, IT_ISSUE_TX_TRIES);
}

/* ---- GET /issues/{ref}/transitions -------------------------------------- */

/* The moves from the current status that this caller could make now: none
 * for a reporter on someone else's issue or for an issue of a deleted
 * (read-only) project. */
static int it_issues_transitions(it_req_t *req, it_resp_t *resp)
{
    const char *params[3];
    const it_transition_t *t;
    const char *status;
    json_t *list, *doc;
    it_db_t *db;
    it_dbres_t *res;
    int may;

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
    it_issue_ref_params(req->pool, req->params[0], params);
    if (it_db_exec(db, &res, it_sql_issue_transitions, 3, params) != 0) {
        return it_problem_db(resp, db);
    }
    if (res->nrows == 0 || !strcmp(it_dbres_get(res, 0, 2), "t")) {
        return it_issue_not_found(resp, req->params[0]);
    }
    status = it_dbres_get(res, 0, 0);
    may = strcmp(it_dbres_get(res, 0, 3), "t")
          && it_auth_allowed(req->caller, "issues.transition",
                             it_issue_is_owner(req, it_dbres_get(res, 0, 1)));
    list = json_array();
    for (t = it_transitions; may && t->from; t++) {
        if (!strcmp(t->from, status)) {
            json_array_append_new(list, json_pack("{s:s, s:s}", "to", t->to,
                                                  "name", t->name));
        }
    }
    doc = json_pack("{s:s, s:o}", "status", status, "transitions", list);
    return it_resp_json(resp, 200, doc);
}

static const it_route_t it_issues_routes[] = {
    { "POST",   IT_ISSUES_PATH,                     it_issues_create,      "issues.create",  0 },
    { "GET",    IT_ISSUES_PATH "/{ref}",            it_issues_read,        "issues.read",    0 },
    { "PATCH",  IT_ISSUES_PATH "/{ref}",            it_issues_update,      "issues.update",  0 },
    { "DELETE", IT_ISSUES_PATH "/{ref}",            it_issues_delete,      "issues.delete",  0 },
    { "POST",   IT_ISSUES_PATH "/{ref}/restore",    it_issues_restore,     "issues.restore", 0 },
    { "GET",    IT_ISSUES_PATH "/{ref}/transitions", it_issues_transitions, "issues.read",    0 },
    { NULL, NULL, NULL, NULL, 0 }
};

const it_resource_t it_res_issues = { "issues", it_issues_routes };
