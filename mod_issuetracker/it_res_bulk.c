/*
 * it_res_bulk.c -- all-or-nothing changes to many issues at once.
 *
 *   POST /api/v1/issues/bulk-status  {"issue_ids", "new_status", "versions"?, "dry_run"?}
 *   POST /api/v1/issues/bulk         {"issue_ids", "set": {...}, "versions"?, "dry_run"?}
 *
 * bulk-status is the general bulk with set = {"status": new_status}: one
 * engine, one transaction (it_db_tx). The rows are locked in id order
 * (SELECT ... ORDER BY id FOR NO KEY UPDATE): two bulks over overlapping
 * ids in different orders then queue instead of deadlocking; a deadlock or
 * serialization failure that still happens is retried by it_db_tx. Every
 * id is checked before anything is written; any failure answers one
 * problem with one `errors` item per failing id and rolls back.
 *
 * Setting a field to its current value is a no-op (DESIGN.md section 4):
 * an issue none of whose fields change keeps its version, gets no event
 * and is not counted in `updated` (it is still listed in `items`).
 */
#include <string.h>
#include <stdlib.h>
#include <limits.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_hash.h>

#include "it_auth.h"
#include "it_db.h"
#include "it_dispatch.h"
#include "it_events.h"
#include "it_json.h"
#include "it_problem.h"
#include "it_router.h"
#include "it_workflow.h"

#define IT_BULK_MAX_IDS 1000
#define IT_BULK_MAX_LABELS 100
/* Locks are taken in id order, so retries are for the rare 40001/40P01. */
#define IT_BULK_TX_TRIES 5

static const char *const it_bulk_priorities[] = {
    "low", "medium", "high", "critical", NULL
};

/* ---- SQL ---------------------------------------------------------------- */

/* $1 the ids as a uuid[] literal. ORDER BY before the lock: PostgreSQL
 * locks the rows as the sorted rows come out, i.e. in id order. */
enum {
    IT_BK_ID, IT_BK_STATUS, IT_BK_VERSION, IT_BK_DELETED, IT_BK_PROJECT_DELETED,
    IT_BK_ASSIGNEE, IT_BK_PRIORITY
};
static const char it_sql_bulk_lock[] =
    "SELECT i.id, i.status, i.version, i.is_deleted, p.is_deleted,"
    "       i.assignee_id, i.priority"
    "  FROM issues i JOIN projects p ON p.id = i.project_id"
    " WHERE i.id = ANY($1::uuid[])"
    " ORDER BY i.id FOR NO KEY UPDATE OF i";

/* dry_run reads the same rows without locking them. */
static const char it_sql_bulk_peek[] =
    "SELECT i.id, i.status, i.version, i.is_deleted, p.is_deleted,"
    "       i.assignee_id, i.priority"
    "  FROM issues i JOIN projects p ON p.id = i.project_id"
    " WHERE i.id = ANY($1::uuid[])"
    " ORDER BY i.id";

static const char it_sql_bulk_user_active[] =
    "SELECT 1 FROM users u WHERE u.id = $1::uuid AND u.is_active AND NOT u.is_deleted";

/* $1 label ids (uuid[] literal): the live ones. */
static const char it_sql_bulk_labels_live[] =
    "SELECT l.id FROM labels l WHERE l.id = ANY($1::uuid[]) AND NOT l.is_deleted";

/* $1 issue ids, $2 label ids: which of those pairs exist. */
static const char it_sql_bulk_issue_labels[] =
    "SELECT il.issue_id, il.label_id FROM issue_labels il"
    " WHERE il.issue_id = ANY($1::uuid[]) AND il.label_id = ANY($2::uuid[])";

/* $1 the changed ids, $2 status, $3 priority (NULL: unchanged), $5 the
 * assignee when $4. resolved_at / closed_at follow PATCH (it_res_issues.c)
 * and only move when the status really changes. */
static const char it_sql_bulk_update[] =
    "UPDATE issues i SET"
    " status = COALESCE($2::text, i.status),"
    " priority = COALESCE($3::text, i.priority),"
    " assignee_id = CASE WHEN $4::boolean THEN $5::uuid ELSE i.assignee_id END,"
    " resolved_at = CASE WHEN $2::text IS NULL OR $2::text = i.status THEN i.resolved_at"
    "                    WHEN $2::text = 'resolved' THEN now()"
    "                    WHEN $2::text IN ('open', 'in_progress') THEN NULL"
    "                    ELSE i.resolved_at END,"
    " closed_at = CASE WHEN $2::text IS NULL OR $2::text = i.status THEN i.closed_at"
    "                  WHEN $2::text = 'closed' THEN now()"
    "                  WHEN $2::text IN ('open', 'in_progress') THEN NULL"
    "                  ELSE i.closed_at END,"
    " version = i.version + 1, updated_at = now()"
    " WHERE i.id = ANY($1::uuid[])"
    " RETURNING i.id, i.version";

/* $1 issue ids, $2 label ids: every pair (existing ones stay). */
static const char it_sql_bulk_label_add[] =
    "INSERT INTO issue_labels (issue_id, label_id)"
    " SELECT i, l FROM unnest($1::uuid[]) i CROSS JOIN unnest($2::uuid[]) l"
    " ORDER BY 1, 2 ON CONFLICT DO NOTHING";

static const char it_sql_bulk_label_remove[] =
    "DELETE FROM issue_labels"
    " WHERE issue_id = ANY($1::uuid[]) AND label_id = ANY($2::uuid[])";

/* $1 [{"issue_id", "kind", "data"}] in timeline order, $2 the actor. */
static const char it_sql_bulk_events[] =
    "INSERT INTO issue_events (issue_id, kind, actor_id, data)"
    " SELECT (e.v->>'issue_id')::uuid, e.v->>'kind', $2::uuid,"
    "        COALESCE(e.v->'data', '{}'::jsonb)"
    "   FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(v, n)"
    "  ORDER BY e.n";

/* ---- request bodies ----------------------------------------------------- */

static const it_field_t it_bulk_status_spec[] = {
    { "issue_ids",  IT_JT_UUID_ARRAY, IT_F_REQUIRED, 1, IT_BULK_MAX_IDS, NULL, NULL },
    { "new_status", IT_JT_ENUM,       IT_F_REQUIRED, 0, 0, it_statuses, NULL },
    { "versions",   IT_JT_OBJECT,     0, 0, 0, NULL, NULL },
    { "dry_run",    IT_JT_BOOL,       0, 0, 0, NULL, NULL },
    { NULL,         IT_JT_STRING,     0, 0, 0, NULL, NULL }
};

static const it_field_t it_bulk_spec[] = {
    { "issue_ids",  IT_JT_UUID_ARRAY, IT_F_REQUIRED, 1, IT_BULK_MAX_IDS, NULL, NULL },
    { "set",        IT_JT_OBJECT,     IT_F_REQUIRED, 0, 0, NULL, NULL },
    { "versions",   IT_JT_OBJECT,     0, 0, 0, NULL, NULL },
    { "dry_run",    IT_JT_BOOL,       0, 0, 0, NULL, NULL },
    { NULL,         IT_JT_STRING,     0, 0, 0, NULL, NULL }
};

static const it_field_t it_bulk_set_spec[] = {
    { "assignee_id",   IT_JT_UUID,       IT_F_NULLABLE, 0, 0, NULL, NULL },
    { "priority",      IT_JT_ENUM,       0, 0, 0, it_bulk_priorities, NULL },
    { "status",        IT_JT_ENUM,       0, 0, 0, it_statuses, NULL },
    { "add_labels",    IT_JT_UUID_ARRAY, 0, 0, IT_BULK_MAX_LABELS, NULL, NULL },
    { "remove_labels", IT_JT_UUID_ARRAY, 0, 0, IT_BULK_MAX_LABELS, NULL, NULL },
    { NULL,            IT_JT_STRING,     0, 0, 0, NULL, NULL }
};

/* ---- the engine --------------------------------------------------------- */

typedef struct {
    it_req_t *req;
    it_resp_t *resp;
    int n;                       /* issue_ids, in request order, lower case */
    const char **ids;
    long *versions;              /* -1: no version given */
    const char *ids_array;       /* uuid[] literal of ids */
    const char *status;          /* NULL: unchanged */
    const char *priority;
    int set_assignee;
    const char *assignee;        /* NULL: unassign (when set_assignee) */
    int nadd, nremove;
    const char **add, **remove;
    const char *add_array, *remove_array, *labels_array;
    int dry_run;
} it_bulk_t;

static const char *it_bulk_lower(apr_pool_t *pool, const char *s)
{
    char *out = apr_pstrdup(pool, s), *o;

    for (o = out; *o; o++) {
        *o = (char)apr_tolower(*o);
    }
    return out;
}

/* A PostgreSQL array literal "{a,b}" of validated UUIDs (hex and dashes
 * only: nothing to quote), bound as $n::uuid[]. */
static const char *it_bulk_array(apr_pool_t *pool, const char **ids, int n)
{
    apr_size_t len = 3 + (apr_size_t)n * 37;
    char *out = apr_palloc(pool, len), *o = out;
    int i;

    *o++ = '{';
    for (i = 0; i < n; i++) {
        if (i) {
            *o++ = ',';
        }
        memcpy(o, ids[i], 36);
        o += 36;
    }
    *o++ = '}';
    *o = '\0';
    return out;
}

/* Copies a validated UUID array (lower case); returns the count. */
static int it_bulk_uuids(apr_pool_t *pool, json_t *arr, const char ***out)
{
    int n = (int)json_array_size(arr), i;

    *out = apr_pcalloc(pool, sizeof(char *) * (apr_size_t)(n + 1));
    for (i = 0; i < n; i++) {
        (*out)[i] = it_bulk_lower(pool, json_string_value(json_array_get(arr, i)));
    }
    return n;
}

/* Parses "versions": {"<id in issue_ids>": n >= 1}; errors name the key. */
static void it_bulk_versions(it_bulk_t *b, json_t *versions, json_t **errors)
{
    apr_hash_t *idx = apr_hash_make(b->req->pool);
    const char *key;
    json_t *v;
    int i;

    b->versions = apr_palloc(b->req->pool, sizeof(long) * (apr_size_t)b->n);
    for (i = 0; i < b->n; i++) {
        b->versions[i] = -1;
        apr_hash_set(idx, b->ids[i], APR_HASH_KEY_STRING, &b->versions[i]);
    }
    json_object_foreach(versions, key, v) {
        const char *field = apr_pstrcat(b->req->pool, "versions.", key, NULL);
        long *slot;

        if (!it_is_uuid(key)
            || !(slot = apr_hash_get(idx, it_bulk_lower(b->req->pool, key),
                                     APR_HASH_KEY_STRING))) {
            *errors = it_problem_error_add(*errors, field, "unknown_id",
                                           "must be one of issue_ids");
        }
        else if (!json_is_integer(v) || json_integer_value(v) < 1
                 || json_integer_value(v) > INT_MAX) {
            *errors = it_problem_error_add(*errors, field, "type",
                                           "must be an integer >= 1");
        }
        else {
            *slot = (long)json_integer_value(v);
        }
    }
}

/* One errors item for issue_ids[i], with the id and extra members. */
static json_t *it_bulk_error(it_bulk_t *b, json_t *errors, int i, const char *code,
                             const char *message)
{
    json_t *item;

    errors = it_problem_error_add(errors,
                                  apr_psprintf(b->req->pool, "issue_ids[%d]", i),
                                  code, message);
    item = json_array_get(errors, json_array_size(errors) - 1);
    json_object_set_new(item, "id", json_string(b->ids[i]));
    return errors;
}

static int it_bulk_same_id(const char *a, const char *b)
{
    return a && b && !strcasecmp(a, b);
}

/* Checks the assignee and the labels (422 on `set.*`). */
static int it_bulk_check_refs(it_db_t *db, it_bulk_t *b, json_t **errors)
{
    it_dbres_t *res;
    int i, j;

    if (b->set_assignee && b->assignee) {
        if (it_db_exec(db, &res, it_sql_bulk_user_active, 1, &b->assignee) != 0) {
            return -1;
        }
        if (res->nrows == 0) {
            *errors = it_problem_error_add(*errors, "set.assignee_id", "not_found",
                                           "must be an active user");
        }
    }
    if (b->nadd + b->nremove == 0) {
        return 0;
    }
    if (it_db_exec(db, &res, it_sql_bulk_labels_live, 1, &b->labels_array) != 0) {
        return -1;
    }
    for (i = 0; i < b->nadd + b->nremove; i++) {
        const char *l = i < b->nadd ? b->add[i] : b->remove[i - b->nadd];
        int found = 0;
        for (j = 0; j < res->nrows && !found; j++) {
            found = it_bulk_same_id(it_dbres_get(res, j, 0), l);
        }
        if (!found) {
            *errors = it_problem_error_add(*errors,
                apr_psprintf(b->req->pool, "set.%s[%d]",
                             i < b->nadd ? "add_labels" : "remove_labels",
                             i < b->nadd ? i : i - b->nadd),
                "not_found", "must be a label that exists and is not deleted");
        }
    }
    return 0;
}

static const char *it_bulk_allowed_list(apr_pool_t *pool, const char *from,
                                        json_t **allowed)
{
    const char *targets[8], *list = NULL;
    int n = it_workflow_targets(from, targets, 8), k;

    *allowed = json_array();
    for (k = 0; k < n; k++) {
        json_array_append_new(*allowed, json_string(targets[k]));
        list = list ? apr_pstrcat(pool, list, ", ", targets[k], NULL) : targets[k];
    }
    return list ? list : "nothing";
}

static int it_bulk_tx(it_db_t *db, void *ctx)
{
    it_bulk_t *b = ctx;
    apr_pool_t *pool = b->req->pool;
    apr_hash_t *rows = apr_hash_make(pool), *pairs = apr_hash_make(pool);
    it_dbres_t *lk, *res;
    json_t *errors = NULL, *events, *items;
    const char **changed, *params[5];
    int *rowof, nchanged = 0, i, j;

    if (it_db_exec(db, &lk, b->dry_run ? it_sql_bulk_peek : it_sql_bulk_lock,
                   1, &b->ids_array) != 0) {
        return -1;
    }
    for (j = 0; j < lk->nrows; j++) {
        apr_hash_set(rows, it_dbres_get(lk, j, IT_BK_ID), APR_HASH_KEY_STRING,
                     (void *)(apr_uintptr_t)(j + 1));
    }
    if (it_bulk_check_refs(db, b, &errors) != 0) {
        json_decref(errors);
        return -1;
    }
    rowof = apr_palloc(pool, sizeof(int) * (apr_size_t)b->n);
    for (i = 0; i < b->n; i++) {
        const char *cur_status, *cur_version;
        long cur;

        rowof[i] = (int)(apr_uintptr_t)apr_hash_get(rows, b->ids[i], APR_HASH_KEY_STRING) - 1;
        if (rowof[i] < 0 || !strcmp(it_dbres_get(lk, rowof[i], IT_BK_DELETED), "t")) {
            errors = it_bulk_error(b, errors, i, "not_found", "No such issue");
            continue;
        }
        if (!strcmp(it_dbres_get(lk, rowof[i], IT_BK_PROJECT_DELETED), "t")) {
            errors = it_bulk_error(b, errors, i, "project_deleted",
                                   "The issue's project is deleted: its issues are read-only");
            continue;
        }
        cur_version = it_dbres_get(lk, rowof[i], IT_BK_VERSION);
        cur = atol(cur_version);
        if (b->versions && b->versions[i] >= 0 && b->versions[i] != cur) {
            errors = it_bulk_error(b, errors, i, "version_mismatch",
                                   apr_psprintf(pool, "expected version %ld, the issue is at %ld",
                                                b->versions[i], cur));
            json_object_set_new(json_array_get(errors, json_array_size(errors) - 1),
                                "current_version", json_integer(cur));
            continue;
        }
        cur_status = it_dbres_get(lk, rowof[i], IT_BK_STATUS);
        if (b->status && strcmp(cur_status, b->status)
            && !it_workflow_allowed(cur_status, b->status)) {
            json_t *allowed;
            const char *list = it_bulk_allowed_list(pool, cur_status, &allowed);
            errors = it_bulk_error(b, errors, i, "invalid_transition",
                                   apr_psprintf(pool, "An issue cannot move from %s to %s;"
                                                " from %s it may move to: %s",
                                                cur_status, b->status, cur_status, list));
            json_object_set_new(json_array_get(errors, json_array_size(errors) - 1),
                                "allowed", allowed);
        }
    }
    if (errors) {
        /* 422 when an id or a referenced user/label does not exist (also
         * reported in set.*), else 409: versions, transitions, read-only. */
        int status = 409;
        size_t k;
        json_t *e;
        json_array_foreach(errors, k, e) {
            if (!strcmp(json_string_value(json_object_get(e, "code")), "not_found")) {
                status = 422;
            }
        }
        it_problem(b->resp, status, status == 422 ? "validation_failed" : "bulk_conflict",
                   "%lu of %d issues cannot be changed; nothing was changed",
                   (unsigned long)json_array_size(errors), b->n);
        it_problem_set(b->resp, "errors", errors);
        return status;
    }
    /* Labels already on (or off) an issue are no-ops too. */
    if (b->nadd + b->nremove > 0) {
        params[0] = b->ids_array;
        params[1] = b->labels_array;
        if (it_db_exec(db, &res, it_sql_bulk_issue_labels, 2, params) != 0) {
            return -1;
        }
        for (j = 0; j < res->nrows; j++) {
            apr_hash_set(pairs, apr_pstrcat(pool, it_dbres_get(res, j, 0), "/",
                                            it_dbres_get(res, j, 1), NULL),
                         APR_HASH_KEY_STRING, "");
        }
    }
    events = json_array();
    changed = apr_palloc(pool, sizeof(char *) * (apr_size_t)b->n);
    items = json_array();
    for (i = 0; i < b->n; i++) {
        const char *id = b->ids[i];
        const char *st = it_dbres_get(lk, rowof[i], IT_BK_STATUS);
        const char *as = it_dbres_get(lk, rowof[i], IT_BK_ASSIGNEE);
        const char *pr = it_dbres_get(lk, rowof[i], IT_BK_PRIORITY);
        size_t before = json_array_size(events);
        long version = atol(it_dbres_get(lk, rowof[i], IT_BK_VERSION));

#define IT_BULK_EVENT(kind, data) \
        json_array_append_new(events, json_pack("{s:s, s:s, s:o}", "issue_id", id, \
                                                "kind", kind, "data", data))
        if (b->status && strcmp(st, b->status)) {
            IT_BULK_EVENT("status_changed", it_event_from_to(st, b->status));
        }
        if (b->set_assignee && !(as == b->assignee || it_bulk_same_id(as, b->assignee))) {
            IT_BULK_EVENT("assigned", it_event_from_to(as, b->assignee));
        }
        if (b->priority && strcmp(pr, b->priority)) {
            json_t *d = it_event_from_to(pr, b->priority);
            json_object_set_new(d, "field", json_string("priority"));
            IT_BULK_EVENT("field_changed", d);
        }
        for (j = 0; j < b->nadd + b->nremove; j++) {
            int adding = j < b->nadd;
            const char *l = adding ? b->add[j] : b->remove[j - b->nadd];
            int has = apr_hash_get(pairs, apr_pstrcat(pool, id, "/", l, NULL),
                                   APR_HASH_KEY_STRING) != NULL;
            if (adding != has) {
                IT_BULK_EVENT(adding ? "labeled" : "unlabeled",
                              json_pack("{s:s}", "label_id", l));
            }
        }
#undef IT_BULK_EVENT
        if (json_array_size(events) > before) {
            changed[nchanged++] = id;
            version++;
            if (b->status) {
                st = b->status;
            }
        }
        json_array_append_new(items, json_pack("{s:s, s:s, s:I}", "id", id, "status", st,
                                               "version", (json_int_t)version));
    }
    if (!b->dry_run && nchanged > 0) {
        const char *changed_array = it_bulk_array(pool, changed, nchanged);
        char *text;
        int rv;

        params[0] = changed_array;
        params[1] = b->status;
        params[2] = b->priority;
        params[3] = b->set_assignee ? "true" : "false";
        params[4] = b->assignee;
        if (it_db_exec(db, &res, it_sql_bulk_update, 5, params) != 0) {
            goto fail;
        }
        if (b->nadd > 0) {
            params[1] = b->add_array;
            if (it_db_exec(db, NULL, it_sql_bulk_label_add, 2, params) != 0) {
                goto fail;
            }
        }
        if (b->nremove > 0) {
            params[1] = b->remove_array;
            if (it_db_exec(db, NULL, it_sql_bulk_label_remove, 2, params) != 0) {
                goto fail;
            }
        }
        text = json_dumps(events, JSON_COMPACT);
        params[0] = text;
        params[1] = b->req->caller->id;
        rv = it_db_exec(db, NULL, it_sql_bulk_events, 2, params);
        free(text);
        if (rv != 0) {
            goto fail;
        }
    }
    json_decref(events);
    it_resp_json(b->resp, 200, json_pack("{s:i, s:o}", "updated", nchanged, "items", items));
    if (b->dry_run) {
        json_object_set_new(b->resp->json, "dry_run", json_true());
    }
    return 0;

fail:
    json_decref(events);
    json_decref(items);
    return -1;
}

/* Shared by both routes: ids, versions and dry_run from the body. */
static int it_bulk_common(it_req_t *req, json_t *body, it_bulk_t *b, json_t **errors)
{
    json_t *v;

    b->req = req;
    b->n = it_bulk_uuids(req->pool, json_object_get(body, "issue_ids"), &b->ids);
    b->ids_array = it_bulk_array(req->pool, b->ids, b->n);
    b->dry_run = json_is_true(json_object_get(body, "dry_run"));
    if ((v = json_object_get(body, "versions")) != NULL && json_is_object(v)) {
        it_bulk_versions(b, v, errors);
    }
    return 0;
}

static int it_bulk_run(it_req_t *req, it_resp_t *resp, it_bulk_t *b)
{
    it_db_t *db = it_req_db(req);
    int rc;

    b->resp = resp;
    if (!db) {
        return it_problem_db(resp, NULL);
    }
    rc = it_db_tx(db, it_bulk_tx, b, IT_BULK_TX_TRIES);
    if (rc == -1) {
        return it_problem_db(resp, db);
    }
    return resp->status;
}

static int it_bulk_status(it_req_t *req, it_resp_t *resp)
{
    it_bulk_t b;
    json_t *body, *errors = NULL;
    int rc;

    memset(&b, 0, sizeof(b));
    if ((rc = it_json_body(req, resp, it_bulk_status_spec, &body)) != 0) {
        return rc;
    }
    it_bulk_common(req, body, &b, &errors);
    if (errors) {
        return it_problem_validation(resp, errors);
    }
    b.status = json_string_value(json_object_get(body, "new_status"));
    return it_bulk_run(req, resp, &b);
}

/* Validates `set` with its own field table; errors are named set.<field>. */
static int it_bulk_parse_set(it_bulk_t *b, json_t *set, json_t **errors)
{
    json_t *set_errors = NULL, *e, *v;
    size_t k;
    int i, j;

    if (json_object_size(set) == 0) {
        *errors = it_problem_error_add(*errors, "set", "empty",
                                       "must name at least one change");
        return -1;
    }
    if (it_json_validate(set, it_bulk_set_spec, &set_errors) > 0) {
        json_array_foreach(set_errors, k, e) {
            const char *f = json_string_value(json_object_get(e, "field"));
            json_object_set_new(e, "field", json_string(apr_pstrcat(b->req->pool,
                                                                    "set.", f, NULL)));
        }
        if (!*errors) {
            *errors = json_array();
        }
        json_array_extend(*errors, set_errors);
        json_decref(set_errors);
        return -1;
    }
    b->status = json_string_value(json_object_get(set, "status"));
    b->priority = json_string_value(json_object_get(set, "priority"));
    if ((v = json_object_get(set, "assignee_id")) != NULL) {
        b->set_assignee = 1;
        b->assignee = json_is_string(v) ? it_bulk_lower(b->req->pool, json_string_value(v))
                                        : NULL;
    }
    if ((v = json_object_get(set, "add_labels")) != NULL) {
        b->nadd = it_bulk_uuids(b->req->pool, v, &b->add);
    }
    if ((v = json_object_get(set, "remove_labels")) != NULL) {
        b->nremove = it_bulk_uuids(b->req->pool, v, &b->remove);
    }
    for (i = 0; i < b->nadd; i++) {
        for (j = 0; j < b->nremove; j++) {
            if (!strcmp(b->add[i], b->remove[j])) {
                *errors = it_problem_error_add(*errors,
                    apr_psprintf(b->req->pool, "set.remove_labels[%d]", j),
                    "conflict", "a label cannot be both added and removed");
            }
        }
    }
    if (b->nadd + b->nremove > 0) {
        const char **all = apr_palloc(b->req->pool,
                                      sizeof(char *) * (apr_size_t)(b->nadd + b->nremove));
        memcpy(all, b->add, sizeof(char *) * (apr_size_t)b->nadd);
        memcpy(all + b->nadd, b->remove, sizeof(char *) * (apr_size_t)b->nremove);
        b->labels_array = it_bulk_array(b->req->pool, all, b->nadd + b->nremove);
        b->add_array = it_bulk_array(b->req->pool, b->add, b->nadd);
        b->remove_array = it_bulk_array(b->req->pool, b->remove, b->nremove);
    }
    return *errors ? -1 : 0;
}

static int it_bulk_update(it_req_t *req, it_resp_t *resp)
{
    it_bulk_t b;
    json_t *body, *errors = NULL;
    int rc;

    memset(&b, 0, sizeof(b));
    if ((rc = it_json_body(req, resp, it_bulk_spec, &body)) != 0) {
        return rc;
    }
    it_bulk_common(req, body, &b, &errors);
    it_bulk_parse_set(&b, json_object_get(body, "set"), &errors);
    if (errors) {
        return it_problem_validation(resp, errors);
    }
    return it_bulk_run(req, resp, &b);
}

static const it_route_t it_bulk_routes[] = {
    { "POST", IT_API_BASE "/issues/bulk-status", it_bulk_status, "issues.bulk", 0 },
    { "POST", IT_API_BASE "/issues/bulk",        it_bulk_update, "issues.bulk", 0 },
    { NULL, NULL, NULL, NULL, 0 }
};

const it_resource_t it_res_bulk = { "bulk", it_bulk_routes };
