/*
 * it_res_import.c -- POST /api/v1/issues/import: issues from a CSV file.
 *
 * The body is multipart/form-data (fields file, creator_id, project_id,
 * dry_run; it_multipart) or raw text/csv (the same as query parameters).
 * It is streamed into the CSV parser (it_csv) chunk by chunk; rows are kept
 * compactly until the whole file is checked, because an import is all or
 * nothing.
 *
 * Then one transaction, set-based whatever the number of rows:
 *   1. COPY the rows into a temporary table (PQputCopyData, text format);
 *   2. resolve the distinct projects, assignees and labels in three
 *      statements, and list every row that names one that does not exist;
 *      any error (from the parser or from here) -> 422, nothing written;
 *   3. lock the projects (in id order: concurrent imports into overlapping
 *      projects queue instead of deadlocking), number the rows per project
 *      after projects.next_number in file order, move next_number on;
 *   4. one INSERT ... SELECT each for issues, events (created, assigned,
 *      labeled, in that order per issue) and issue_labels.
 * A dry run stops after step 2 (and answers what would be created); the
 * transaction is rolled back, so it writes nothing.
 */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "it_auth.h"
#include "it_config.h"
#include "it_csv.h"
#include "it_db.h"
#include "it_dispatch.h"
#include "it_json.h"
#include "it_multipart.h"
#include "it_page.h"
#include "it_problem.h"
#include "it_router.h"

#define IT_IMPORT_PATH IT_API_BASE "/issues/import"
#define IT_IMPORT_CHUNK 65536
#define IT_IMPORT_FIELD_MAX 256         /* bytes of a non-file form field */
#define IT_IMPORT_MAX_PARTS 8
#define IT_IMPORT_TX_TRIES 3
/* The import's statements are bulk work: the session's statement_timeout
 * (milliseconds, meant for single-row requests) is raised for this
 * transaction only. */
#define IT_IMPORT_TIMEOUT "SET LOCAL statement_timeout = '120s'"

#define IT_UUID_RE "'^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$'"

/* ---- SQL ---------------------------------------------------------------- */

/* $1 creator, $2 default project (NULL: none) */
static const char it_sql_import_check[] =
    "SELECT EXISTS (SELECT 1 FROM users u WHERE u.id = $1::uuid"
    "                  AND u.is_active AND NOT u.is_deleted),"
    "       $2::uuid IS NULL OR EXISTS (SELECT 1 FROM projects p"
    "          WHERE p.id = $2::uuid AND NOT p.is_deleted)";

static const char *const it_sql_import_tables[] = {
    "CREATE TEMPORARY TABLE it_import ("
    "  line int NOT NULL, title text, description text, priority text,"
    "  type text, status text, assignee text, labels text, project text)"
    " ON COMMIT DROP",
    "CREATE TEMPORARY TABLE it_import_p (v text, id uuid) ON COMMIT DROP",
    "CREATE TEMPORARY TABLE it_import_u (v text, id uuid) ON COMMIT DROP",
    "CREATE TEMPORARY TABLE it_import_l (v text, id uuid) ON COMMIT DROP",
    "CREATE TEMPORARY TABLE it_import_n ("
    "  line int, id uuid, project_id uuid, key text, number int, title text,"
    "  description text, priority text, type text, status text,"
    "  assignee_id uuid, labels text) ON COMMIT DROP",
    "CREATE TEMPORARY TABLE it_import_nl ("
    "  line int, ord bigint, issue_id uuid, label_id uuid) ON COMMIT DROP",
    NULL
};

static const char it_sql_import_copy[] =
    "COPY it_import (line, title, description, priority, type, status,"
    " assignee, labels, project) FROM STDIN";

/* A project by key (any case) or id, not deleted. $1 default project. */
static const char it_sql_import_projects[] =
    "INSERT INTO it_import_p (v, id)"
    " WITH v AS (SELECT DISTINCT COALESCE(project, $1::text) AS v FROM it_import)"
    " SELECT v.v, p.id FROM v JOIN projects p ON p.key = upper(v.v)"
    "  WHERE NOT p.is_deleted"
    " UNION ALL"
    " SELECT v.v, p.id FROM v JOIN projects p"
    "   ON p.id = (CASE WHEN v.v ~ " IT_UUID_RE " THEN v.v::uuid END)"
    "  WHERE NOT p.is_deleted";

/* An active user by id, username or email (any case). The three never
 * match the same text: usernames have no '@' and are shorter than ids. */
static const char it_sql_import_users[] =
    "INSERT INTO it_import_u (v, id)"
    " WITH v AS (SELECT DISTINCT lower(assignee) AS v FROM it_import"
    "             WHERE assignee IS NOT NULL)"
    " SELECT v.v, u.id FROM v JOIN users u ON lower(u.username) = v.v"
    "  WHERE u.is_active AND NOT u.is_deleted"
    " UNION ALL"
    " SELECT v.v, u.id FROM v JOIN users u ON lower(u.email) = v.v"
    "  WHERE u.is_active AND NOT u.is_deleted"
    " UNION ALL"
    " SELECT v.v, u.id FROM v JOIN users u"
    "   ON u.id = (CASE WHEN v.v ~ " IT_UUID_RE " THEN v.v::uuid END)"
    "  WHERE u.is_active AND NOT u.is_deleted";

static const char it_sql_import_labels[] =
    "INSERT INTO it_import_l (v, id)"
    " SELECT v.v, l.id FROM (SELECT DISTINCT lower(x) AS v"
    "   FROM it_import, unnest(string_to_array(labels, ';')) AS x"
    "  WHERE labels IS NOT NULL) v"
    " JOIN labels l ON lower(l.name) = v.v AND NOT l.is_deleted";

/* Every reference that did not resolve, in file order; the first 1000
 * and the count of all. $1 default project. */
static const char it_sql_import_errors[] =
    "SELECT line, col, code, msg, count(*) OVER () FROM ("
    " SELECT r.line, 'project' AS col, 'required' AS code,"
    "        'is required when project_id is not given' AS msg"
    "   FROM it_import r WHERE r.project IS NULL AND $1::text IS NULL"
    " UNION ALL"
    " SELECT r.line, 'project', 'not_found',"
    "        'no project with key or id ' || r.project"
    "   FROM it_import r WHERE r.project IS NOT NULL"
    "    AND NOT EXISTS (SELECT 1 FROM it_import_p p WHERE p.v = r.project)"
    " UNION ALL"
    " SELECT r.line, 'assignee', 'not_found',"
    "        'no active user with id, username or email ' || r.assignee"
    "   FROM it_import r WHERE r.assignee IS NOT NULL"
    "    AND NOT EXISTS (SELECT 1 FROM it_import_u u WHERE u.v = lower(r.assignee))"
    " UNION ALL"
    " SELECT r.line, 'labels', 'not_found', 'no label named ' || x"
    "   FROM it_import r, unnest(string_to_array(r.labels, ';')) AS x"
    "  WHERE r.labels IS NOT NULL"
    "    AND NOT EXISTS (SELECT 1 FROM it_import_l l WHERE l.v = lower(x))"
    ") e ORDER BY line, col LIMIT 1000";

static const char it_sql_import_analyze[] = "ANALYZE it_import";

/* What a dry run would create, in file order. $1 default project. */
static const char it_sql_import_preview[] =
    "SELECT json_build_object('dry_run', true, 'created', 0,"
    " 'would_create', count(*),"
    " 'items', COALESCE(json_agg(json_build_object('row', r.line,"
    "   'title', r.title, 'project_id', p.id, 'project_key', p.key)"
    "   ORDER BY r.line), '[]'::json))::text"
    " FROM it_import r JOIN it_import_p pm ON pm.v = COALESCE(r.project, $1::text)"
    " JOIN projects p ON p.id = pm.id";

/* The same lock as a single create's UPDATE of next_number, taken in id
 * order. */
static const char it_sql_import_lock[] =
    "SELECT p.id FROM projects p WHERE p.id IN (SELECT id FROM it_import_p)"
    " ORDER BY p.id FOR NO KEY UPDATE";

/* Numbers follow the locked next_number in file order. $1 default project. */
static const char it_sql_import_number[] =
    "INSERT INTO it_import_n"
    " SELECT r.line, gen_random_uuid(), p.id, p.key,"
    "        p.next_number - 1 + row_number() OVER (PARTITION BY p.id ORDER BY r.line),"
    "        r.title, COALESCE(r.description, ''), COALESCE(r.priority, 'medium'),"
    "        COALESCE(r.type, 'task'), COALESCE(r.status, 'open'), u.id, r.labels"
    "   FROM it_import r"
    "   JOIN it_import_p pm ON pm.v = COALESCE(r.project, $1::text)"
    "   JOIN projects p ON p.id = pm.id"
    "   LEFT JOIN it_import_u u ON u.v = lower(r.assignee)";

static const char it_sql_import_next[] =
    "UPDATE projects p SET next_number = p.next_number + c.n"
    " FROM (SELECT project_id, count(*) AS n FROM it_import_n GROUP BY 1) c"
    " WHERE p.id = c.project_id";

static const char it_sql_import_issues[] =
    "INSERT INTO issues (id, project_id, number, title, description, status,"
    "                    priority, type, creator_id, assignee_id, resolved_at,"
    "                    closed_at)"
    " SELECT id, project_id, number, title, description, status, priority, type,"
    "        $1::uuid, assignee_id,"
    "        CASE WHEN status = 'resolved' THEN now() END,"
    "        CASE WHEN status = 'closed' THEN now() END"
    "   FROM it_import_n ORDER BY line";

static const char it_sql_import_issue_labels[] =
    "INSERT INTO it_import_nl"
    " SELECT n.line, x.ord, n.id, l.id"
    "   FROM it_import_n n,"
    "        unnest(string_to_array(n.labels, ';')) WITH ORDINALITY AS x(name, ord)"
    "   JOIN it_import_l l ON l.v = lower(x.name)"
    "  WHERE n.labels IS NOT NULL";

static const char it_sql_import_labels_insert[] =
    "INSERT INTO issue_labels (issue_id, label_id)"
    " SELECT issue_id, label_id FROM it_import_nl ORDER BY line, ord";

/* The timeline: created, then assigned, then labeled, per issue; seq
 * follows the ORDER BY. $1 the actor: the caller, as for a single create. */
static const char it_sql_import_events[] =
    "INSERT INTO issue_events (issue_id, kind, actor_id, data)"
    " SELECT issue_id, kind, $1::uuid, data FROM ("
    "  SELECT n.line, 0 AS o, n.id AS issue_id, 'created' AS kind,"
    "         '{}'::jsonb AS data FROM it_import_n n"
    "  UNION ALL"
    "  SELECT n.line, 1, n.id, 'assigned',"
    "         jsonb_build_object('from', NULL::text, 'to', n.assignee_id)"
    "    FROM it_import_n n WHERE n.assignee_id IS NOT NULL"
    "  UNION ALL"
    "  SELECT l.line, 1 + l.ord, l.issue_id, 'labeled',"
    "         jsonb_build_object('label_id', l.label_id)"
    "    FROM it_import_nl l) e"
    " ORDER BY line, o";

static const char it_sql_import_result[] =
    "SELECT json_build_object('created', count(*),"
    " 'items', COALESCE(json_agg(json_build_object('id', id,"
    "   'key', key || '-' || number, 'number', number) ORDER BY line),"
    "   '[]'::json))::text FROM it_import_n";

/* ---- reading the upload --------------------------------------------------- */

typedef enum { IT_PART_SKIP, IT_PART_FILE, IT_PART_FIELD } it_part_kind_t;

static const char *const it_import_params[] = {
    "creator_id", "project_id", "dry_run", NULL
};

typedef struct {
    it_req_t *req;
    it_resp_t *resp;
    it_csv_t *csv;
    /* multipart state */
    it_part_kind_t part;
    const char *part_name;
    char field[IT_IMPORT_FIELD_MAX + 1];
    apr_size_t field_len;
    int have_file;
    int status;                      /* a problem already in resp */
    /* after the body */
    const char *creator;
    const char *project;
    int dry_run;
} it_import_t;

static int it_import_known(const char *name)
{
    const char *const *k;

    for (k = it_import_params; *k; k++) {
        if (!strcmp(*k, name)) {
            return 1;
        }
    }
    return 0;
}

static int it_import_on_part(void *ctx, const it_mp_part_t *part)
{
    it_import_t *im = ctx;

    im->part_name = apr_pstrdup(im->req->pool, part->name);
    im->field_len = 0;
    if (!strcmp(part->name, "file")) {
        if (im->have_file) {
            im->status = it_problem_validation(im->resp, it_problem_error_add(NULL,
                             "file", "duplicate", "only one file may be imported"));
            return 1;
        }
        im->have_file = 1;
        im->part = IT_PART_FILE;
        return 0;
    }
    if (!it_import_known(part->name)) {
        im->status = it_problem_validation(im->resp, it_problem_error_add(NULL,
                         it_utf8_valid(part->name, strlen(part->name)) ? part->name : "",
                         "unknown_field", "is not a field of the import"));
        return 1;
    }
    im->part = IT_PART_FIELD;
    return 0;
}

static int it_import_on_data(void *ctx, const char *buf, size_t len)
{
    it_import_t *im = ctx;

    if (im->part == IT_PART_FILE) {
        /* stop reading once there are too many rows: the answer is 413 */
        return it_csv_feed(im->csv, buf, len) == IT_CSV_TOO_MANY_ROWS;
    }
    if (im->field_len + len > IT_IMPORT_FIELD_MAX) {
        im->status = it_problem_validation(im->resp, it_problem_error_add(NULL,
                         im->part_name, "too_long", "is too long"));
        return 1;
    }
    memcpy(im->field + im->field_len, buf, len);
    im->field_len += len;
    return 0;
}

static int it_import_on_part_end(void *ctx)
{
    it_import_t *im = ctx;

    if (im->part == IT_PART_FIELD) {
        if (!it_utf8_valid(im->field, im->field_len)) {
            im->status = it_problem(im->resp, 400, "invalid_utf8",
                                    "The form field %s is not valid UTF-8",
                                    im->part_name);
            return 1;
        }
        /* form fields win over query parameters of the same name */
        apr_table_set(im->req->query, im->part_name,
                      apr_pstrmemdup(im->req->pool, im->field, im->field_len));
    }
    im->part = IT_PART_SKIP;
    return 0;
}

static int it_import_too_many(it_import_t *im, int max_rows)
{
    it_problem(im->resp, 413, "too_many_rows",
               "The file has more than %d rows (IssueTrackerMaxImportRows)",
               max_rows);
    it_problem_set(im->resp, "max_rows", json_integer(max_rows));
    return 413;
}

static int it_import_too_large(it_import_t *im, long long limit)
{
    it_problem(im->resp, 413, "payload_too_large",
               "The upload is larger than %lld bytes (IssueTrackerMaxUploadSize)",
               limit);
    it_problem_set(im->resp, "max_size", json_integer(limit));
    return 413;
}

/* Streams the body into the parser (through the multipart parser when mp
 * is set). Returns 0 or the status of the problem put into resp. */
static int it_import_read(it_import_t *im, it_mp_t *mp, long long limit,
                          int max_rows)
{
    it_req_t *req = im->req;
    char *buf = apr_palloc(req->pool, IT_IMPORT_CHUNK);
    long long total = 0;
    it_csv_status_t cst = IT_CSV_OK;

    if (!req->read_chunk) {
        return it_problem(im->resp, 400, "bad_request", "The request has no body");
    }
    for (;;) {
        apr_size_t len = IT_IMPORT_CHUNK;
        int rc = req->read_chunk(req, buf, &len);

        if (rc == 413) {
            return it_import_too_large(im, limit);
        }
        if (rc != 0) {
            return it_problem(im->resp, rc, NULL, "The request body could not be read");
        }
        if (len == 0) {
            break;
        }
        total += (long long)len;
        if (total > limit) {
            return it_import_too_large(im, limit);
        }
        if (mp) {
            it_mp_status_t st = it_mp_feed(mp, buf, len);
            if (st == IT_MP_E_CALLBACK && im->status) {
                return im->status;
            }
            if (st == IT_MP_E_CALLBACK) {
                return it_import_too_many(im, max_rows);
            }
            if (st != IT_MP_OK) {
                return it_problem(im->resp, 400, it_mp_code(st), "%s", it_mp_message(st));
            }
        }
        else if ((cst = it_csv_feed(im->csv, buf, len)) == IT_CSV_TOO_MANY_ROWS) {
            return it_import_too_many(im, max_rows);
        }
    }
    if (mp) {
        it_mp_status_t st = it_mp_finish(mp);
        if (st != IT_MP_OK) {
            return it_problem(im->resp, 400, it_mp_code(st), "%s", it_mp_message(st));
        }
        if (!im->have_file) {
            return it_problem_validation(im->resp, it_problem_error_add(NULL,
                       "file", "required", "a file part with the CSV is required"));
        }
    }
    if (it_csv_finish(im->csv) == IT_CSV_TOO_MANY_ROWS) {
        return it_import_too_many(im, max_rows);
    }
    return 0;
}

/* creator_id, project_id, dry_run: from the query or the form. */
static int it_import_params_check(it_import_t *im)
{
    it_req_t *req = im->req;
    const apr_array_header_t *arr = apr_table_elts(req->query);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    json_t *errors = NULL;
    int i;

    for (i = 0; i < arr->nelts; i++) {
        if (!it_import_known(e[i].key)) {
            errors = it_problem_error_add(errors, e[i].key, "unknown_parameter",
                                          "is not a known parameter");
        }
    }
    it_query_uuid(req, "creator_id", &im->creator, &errors);
    it_query_uuid(req, "project_id", &im->project, &errors);
    it_query_bool(req, "dry_run", &im->dry_run, &errors);
    if (errors) {
        return it_problem_validation(im->resp, errors);
    }
    if (im->creator && strcasecmp(im->creator, req->caller->id)
        && req->caller->role < IT_ROLE_ADMIN) {
        return it_problem(im->resp, 403, "creator_mismatch",
                          "creator_id must be your own id: only an admin may "
                          "import issues on behalf of someone else");
    }
    im->creator = im->creator ? apr_pstrdup(req->pool, im->creator) : req->caller->id;
    if (im->project) {
        char *p = apr_pstrdup(req->pool, im->project), *o;
        for (o = p; *o; o++) {
            *o = (char)apr_tolower(*o);
        }
        im->project = p;
    }
    {
        char *c = apr_pstrdup(req->pool, im->creator), *o;
        for (o = c; *o; o++) {
            *o = (char)apr_tolower(*o);
        }
        im->creator = c;
    }
    return 0;
}

/* ---- the errors of a failed import ----------------------------------------- */

static json_t *it_import_error_item(int line, const char *column,
                                    const char *code, const char *message)
{
    json_t *m = json_string(message ? message : "");

    return json_pack("{s:i, s:o, s:s, s:o}", "row", line,
                     "column", column ? json_string(column) : json_null(),
                     "code", code, "message", m ? m : json_string("invalid"));
}

/* The parser's errors and the database's, merged in line order, at most
 * IT_CSV_MAX_ERRORS items; error_count has them all. */
static int it_import_unprocessable(it_import_t *im, const it_dbres_t *dberr)
{
    const apr_array_header_t *ce = it_csv_errors(im->csv);
    json_t *errors = json_array();
    int i = 0, j = 0, nd = dberr ? dberr->nrows : 0;
    long total = it_csv_error_count(im->csv)
                 + (nd ? atol(it_dbres_get(dberr, 0, 4)) : 0);

    while ((i < ce->nelts || j < nd) && json_array_size(errors) < IT_CSV_MAX_ERRORS) {
        const it_csv_error_t *e = i < ce->nelts
                                  ? &APR_ARRAY_IDX(ce, i, it_csv_error_t) : NULL;
        int dline = j < nd ? atoi(it_dbres_get(dberr, j, 0)) : 0;

        if (e && (j >= nd || e->line <= dline)) {
            json_array_append_new(errors, it_import_error_item(e->line, e->column,
                                                               e->code, e->message));
            i++;
        }
        else {
            json_array_append_new(errors, it_import_error_item(dline,
                                      it_dbres_get(dberr, j, 1), it_dbres_get(dberr, j, 2),
                                      it_dbres_get(dberr, j, 3)));
            j++;
        }
    }
    it_problem(im->resp, 422, "invalid_import",
               "%ld problem%s in the file; nothing was imported", total,
               total == 1 ? "" : "s");
    it_problem_set(im->resp, "errors", errors);
    it_problem_set(im->resp, "error_count", json_integer(total));
    return 422;
}

/* ---- the transaction ------------------------------------------------------- */

static int it_import_copy(it_db_t *db, it_import_t *im)
{
    const apr_array_header_t *rows = it_csv_rows(im->csv);
    apr_size_t cap = IT_IMPORT_CHUNK, used = 0;
    char *buf = apr_palloc(im->req->pool, cap);
    int i;

    if (it_db_copy_begin(db, it_sql_import_copy) != 0) {
        return -1;
    }
    for (i = 0; i < rows->nelts; i++) {
        const it_csv_row_t *row = &APR_ARRAY_IDX(rows, i, it_csv_row_t);
        apr_size_t need = it_csv_copy_line_max(row), n;

        if (used + need > cap) {
            if (used && it_db_copy_put(db, buf, used) != 0) {
                it_db_copy_end(db, "send failed", NULL);
                return -1;
            }
            used = 0;
            if (need > cap) {        /* a big description: a buffer of its own */
                cap = need;
                buf = apr_palloc(im->req->pool, cap);
            }
        }
        n = it_csv_copy_line(row, buf + used, cap - used);
        used += n;
    }
    if (used && it_db_copy_put(db, buf, used) != 0) {
        it_db_copy_end(db, "send failed", NULL);
        return -1;
    }
    return it_db_copy_end(db, NULL, NULL);
}

static int it_import_raw(it_import_t *im, int status, const char *doc)
{
    im->resp->json = NULL;
    im->resp->raw = doc;
    im->resp->raw_len = strlen(doc);
    im->resp->content_type = "application/json";
    im->resp->status = status;
    return status;
}

static int it_import_tx(it_db_t *db, void *ctx)
{
    it_import_t *im = ctx;
    const char *p2[2], *p1[1], *actor[1];
    it_dbres_t *res;
    int i;

    actor[0] = im->req->caller->id;
    p1[0] = im->project;
    p2[0] = im->creator;
    p2[1] = im->project;
    if (it_db_exec(db, NULL, IT_IMPORT_TIMEOUT, 0, NULL) != 0
        || it_db_exec(db, &res, it_sql_import_check, 2, p2) != 0) {
        return -1;
    }
    if (strcmp(it_dbres_get(res, 0, 0), "t") || strcmp(it_dbres_get(res, 0, 1), "t")) {
        json_t *errors = NULL;
        if (strcmp(it_dbres_get(res, 0, 0), "t")) {
            errors = it_problem_error_add(errors, "creator_id", "not_found",
                                          "must be an active user");
        }
        if (strcmp(it_dbres_get(res, 0, 1), "t")) {
            errors = it_problem_error_add(errors, "project_id", "not_found",
                                          "must be an existing project that is not deleted");
        }
        return it_problem_validation(im->resp, errors);
    }
    for (i = 0; it_sql_import_tables[i]; i++) {
        if (it_db_exec(db, NULL, it_sql_import_tables[i], 0, NULL) != 0) {
            return -1;
        }
    }
    if (it_import_copy(db, im) != 0
        || it_db_exec(db, NULL, it_sql_import_analyze, 0, NULL) != 0
        || it_db_exec(db, NULL, it_sql_import_projects, 1, p1) != 0
        || it_db_exec(db, NULL, it_sql_import_users, 0, NULL) != 0
        || it_db_exec(db, NULL, it_sql_import_labels, 0, NULL) != 0
        || it_db_exec(db, &res, it_sql_import_errors, 1, p1) != 0) {
        return -1;
    }
    if (res->nrows > 0 || it_csv_error_count(im->csv) > 0) {
        return it_import_unprocessable(im, res);
    }
    if (im->dry_run) {
        if (it_db_exec(db, &res, it_sql_import_preview, 1, p1) != 0) {
            return -1;
        }
        return it_import_raw(im, 200, apr_pstrdup(im->req->pool, it_dbres_get(res, 0, 0)));
    }
    if (it_db_exec(db, NULL, it_sql_import_lock, 0, NULL) != 0
        || it_db_exec(db, NULL, it_sql_import_number, 1, p1) != 0
        || it_db_exec(db, NULL, it_sql_import_next, 0, NULL) != 0
        || it_db_exec(db, NULL, it_sql_import_issues, 1, p2) != 0
        || it_db_exec(db, NULL, it_sql_import_issue_labels, 0, NULL) != 0
        || it_db_exec(db, NULL, it_sql_import_labels_insert, 0, NULL) != 0
        || it_db_exec(db, NULL, it_sql_import_events, 1, actor) != 0
        || it_db_exec(db, &res, it_sql_import_result, 0, NULL) != 0) {
        return -1;
    }
    it_import_raw(im, 201, apr_pstrdup(im->req->pool, it_dbres_get(res, 0, 0)));
    return 0;
}

/* ---- POST /issues/import --------------------------------------------------- */

static int it_issues_import(it_req_t *req, it_resp_t *resp)
{
    it_import_t im;
    it_mp_t *mp = NULL;
    const char *media;
    long long limit = req->cfg && req->cfg->max_upload_size > 0
                      ? req->cfg->max_upload_size : IT_DEFAULT_MAX_UPLOAD;
    int max_rows = req->cfg && req->cfg->max_import_rows > 0
                   ? req->cfg->max_import_rows : IT_DEFAULT_MAX_IMPORT_ROWS;
    int rc;

    memset(&im, 0, sizeof(im));
    im.req = req;
    im.resp = resp;
    media = it_mp_media_type(req->pool, req->content_type);
    if (media && !strcmp(media, "multipart/form-data")) {
        static const it_mp_callbacks_t cb = {
            it_import_on_part, it_import_on_data, it_import_on_part_end
        };
        int is_mp = 0;
        const char *boundary = it_mp_boundary(req->pool, req->content_type, &is_mp);
        if (!boundary || !(mp = it_mp_create(req->pool, boundary, IT_IMPORT_MAX_PARTS,
                                             &cb, &im))) {
            return it_problem(resp, 400, it_mp_code(IT_MP_E_BOUNDARY), "%s",
                              it_mp_message(IT_MP_E_BOUNDARY));
        }
    }
    else if (!media || strcmp(media, "text/csv")) {
        return it_problem(resp, 415, "unsupported_media_type",
                          "Send the CSV as multipart/form-data (field file) "
                          "or as text/csv");
    }
    if (req->content_length > limit) {
        return it_import_too_large(&im, limit);
    }
    if (!(im.csv = it_csv_create(req->pool, max_rows))) {
        return it_problem(resp, 503, "unavailable", "Out of memory; retry later");
    }
    if ((rc = it_import_read(&im, mp, limit, max_rows)) != 0
        || (rc = it_import_params_check(&im)) != 0) {
        return rc;
    }
    if (!it_csv_header_ok(im.csv) || it_csv_rows(im.csv)->nelts == 0) {
        /* no rows to resolve: the parser's errors are the answer */
        return it_import_unprocessable(&im, NULL);
    }
    return it_req_tx(req, resp, it_import_tx, &im, IT_IMPORT_TX_TRIES);
}

static const it_route_t it_import_routes[] = {
    { "POST", IT_IMPORT_PATH, it_issues_import, "issues.import", 0 },
    { NULL, NULL, NULL, NULL, 0 }
};

const it_resource_t it_res_import = { "import", it_import_routes };
