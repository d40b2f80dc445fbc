/*
 * it_res_export.c -- GET /api/v1/issues as CSV: `format=csv`, or an Accept
 * header that prefers text/csv to application/json.
 *
 * The list handler (it_res_issues_list.c) validates every filter, the sort
 * and include_deleted exactly as for JSON and hands over its WHERE clause
 * and parameters; this file runs the same statement in keyset batches of
 * IT_EXPORT_BATCH rows (the sort's keyset predicate, as a cursor would)
 * and writes each batch as it is fetched through the glue's streaming
 * writer (it_resp_t.stream). No page limit; `page` and `size` are ignored,
 * a `cursor` is a starting point. Memory stays flat: each batch's result
 * lives in a pool cleared before the next one.
 *
 * The first batch runs before the response starts, so a database error
 * there is an ordinary problem (503); one in a later batch can only abort
 * the response (the glue drops the last chunk and closes the connection).
 * Batches are separate statements, not one snapshot: an issue updated
 * while an export sorted by updated_at runs can move past the position
 * and appear twice, as with cursor paging.
 *
 * Columns (`columns`):
 *   - default: exactly the import's columns, in its names and order,
 *     title,description,priority,type,status,assignee,labels,project
 *     (assignee as username, labels as `;`-joined names sorted by name,
 *     project as key), so that an export re-imports as it is: the import
 *     rejects unknown columns;
 *   - `all`: those, then the read-only key,created_at,updated_at,
 *     resolved_at,closed_at (RFC 3339 UTC);
 *   - a comma list of any of these names, in the order wanted (e.g. the
 *     import's columns without `project`, to import into another project
 *     with project_id).
 *
 * Format: RFC 4180 (fields with a comma, quote, CR or LF are quoted, quotes
 * doubled), CRLF line ends, UTF-8 without BOM, a header row; empty and
 * NULL are both an empty field. Against formula injection (OWASP) a cell
 * starting with =, +, -, @, tab or CR gets a leading single quote, and so
 * does one that starts with a quote ('=x is written ''=x): the import
 * strips exactly one quote before those characters (it_csv_unguard), so
 * every cell re-imports unchanged and a lone 'abc is never touched.
 */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "it_csv.h"
#include "it_db.h"
#include "it_dispatch.h"
#include "it_issues.h"
#include "it_page.h"
#include "it_problem.h"

#define IT_EXPORT_BATCH 1000
#define IT_EXPORT_BATCH_SQL "1000"
#define IT_EXPORT_BUF 65536
#define IT_EXPORT_CTYPE "text/csv; charset=utf-8"

/* The SELECT list, in this order; then i.id and the sort key. */
typedef enum {
    IT_X_TITLE, IT_X_DESCRIPTION, IT_X_PRIORITY, IT_X_TYPE, IT_X_STATUS,
    IT_X_ASSIGNEE, IT_X_LABELS, IT_X_PROJECT, IT_X_KEY, IT_X_CREATED_AT,
    IT_X_UPDATED_AT, IT_X_RESOLVED_AT, IT_X_CLOSED_AT, IT_X_NCOLS
} it_export_col_t;

static const char *const it_export_names[IT_X_NCOLS + 1] = {
    "title", "description", "priority", "type", "status", "assignee",
    "labels", "project", "key", "created_at", "updated_at", "resolved_at",
    "closed_at", NULL
};

/* The import's columns (it_csv_columns) are the first eight. */
#define IT_X_IMPORTABLE 8

#define IT_EXPORT_SELECT \
    "SELECT i.title, i.description, i.priority, i.type, i.status," \
    " u.username," \
    " (SELECT string_agg(l.name, ';' ORDER BY lower(l.name), l.name)" \
    "    FROM issue_labels il JOIN labels l ON l.id = il.label_id" \
    "   WHERE il.issue_id = i.id AND NOT l.is_deleted)," \
    " p.key, p.key || '-' || i.number, it_ts(i.created_at)," \
    " it_ts(i.updated_at), it_ts(i.resolved_at), it_ts(i.closed_at)," \
    " i.id, ("

struct it_export_t {
    it_req_t *req;
    it_page_t pg;                /* a copy: after_key/after_id move on */
    const char *where;
    const char **params;         /* n filters + 2 keyset slots */
    int n;
    int fenced;
    int empty;                   /* nothing can match: header only */
    int cols[IT_X_NCOLS];
    int ncols;
    it_db_t *db;
    apr_pool_t *bpool;           /* the current batch's result */
    it_dbres_t *res;
    char after_id[40];
    char *after_key;
    apr_size_t after_key_cap;
    /* output buffer */
    it_write_fn write;
    char *buf;
    apr_size_t len;
    int failed;                  /* the client went away */
};

/* ---- parameters ------------------------------------------------------------- */

/* q of a media range in an Accept header, or -1 when it is not named. */
static double it_accept_q(apr_pool_t *pool, const char *accept, const char *type)
{
    char *copy = apr_pstrdup(pool, accept), *item, *state = NULL;

    for (item = apr_strtok(copy, ",", &state); item;
         item = apr_strtok(NULL, ",", &state)) {
        char *params = strchr(item, ';'), *end;
        double q = 1.0;

        if (params) {
            *params++ = '\0';
        }
        while (apr_isspace(*item)) {
            item++;
        }
        for (end = item + strlen(item); end > item && apr_isspace(end[-1]); end--)
            ;
        *end = '\0';
        if (strcasecmp(item, type)) {
            continue;
        }
        while (params && *params) {
            char *next = strchr(params, ';');
            if (next) {
                *next++ = '\0';
            }
            while (apr_isspace(*params)) {
                params++;
            }
            if ((params[0] == 'q' || params[0] == 'Q') && params[1] == '=') {
                q = strtod(params + 2, NULL);
            }
            params = next;
        }
        return q;
    }
    return -1.0;
}

int it_issue_export_parse(it_req_t *req, it_issue_export_opts_t *opts,
                          json_t **errors)
{
    const char *format = apr_table_get(req->query, "format");
    const char *columns = apr_table_get(req->query, "columns");
    const char *accept = req->headers ? apr_table_get(req->headers, "Accept") : NULL;
    int csv = 0, i;

    memset(opts, 0, sizeof(*opts));
    if (format) {
        if (!strcmp(format, "csv")) {
            csv = 1;
        }
        else if (strcmp(format, "json")) {
            *errors = it_problem_error_add(*errors, "format", "enum",
                                           "must be one of: json, csv");
            return 0;
        }
    }
    else if (accept) {
        /* text/csv named, and preferred to application/json when both are */
        double qcsv = it_accept_q(req->pool, accept, "text/csv");
        double qjson = it_accept_q(req->pool, accept, "application/json");
        csv = qcsv > 0 && qcsv > qjson;
    }
    if (!columns) {
        for (i = 0; i < IT_X_IMPORTABLE; i++) {
            opts->cols[opts->ncols++] = i;
        }
        return csv;
    }
    if (!csv) {
        *errors = it_problem_error_add(*errors, "columns", "not_applicable",
                                       "applies only to the CSV export (format=csv)");
        return 0;
    }
    if (!strcmp(columns, "all")) {
        for (i = 0; i < IT_X_NCOLS; i++) {
            opts->cols[opts->ncols++] = i;
        }
        return csv;
    }
    for (;;) {
        const char *end = strchr(columns, ',');
        size_t len = end ? (size_t)(end - columns) : strlen(columns);
        int k, dup = 0;

        for (i = 0; i < IT_X_NCOLS; i++) {
            if (strlen(it_export_names[i]) == len
                && !strncmp(it_export_names[i], columns, len)) {
                break;
            }
        }
        for (k = 0; i < IT_X_NCOLS && k < opts->ncols; k++) {
            dup |= opts->cols[k] == i;
        }
        if (i == IT_X_NCOLS || dup) {
            *errors = it_problem_error_add(*errors, "columns", i == IT_X_NCOLS
                          ? "enum" : "duplicate",
                          "must be all, or a comma list of distinct names of: "
                          "title, description, priority, type, status, assignee, "
                          "labels, project, key, created_at, updated_at, "
                          "resolved_at, closed_at");
            return 0;
        }
        opts->cols[opts->ncols++] = i;
        if (!end) {
            break;
        }
        columns = end + 1;
    }
    return csv;
}

/* ---- the batches ------------------------------------------------------------- */

/* Runs the next batch into x->res (in x->bpool, cleared first). */
static int it_export_fetch(struct it_export_t *x)
{
    it_req_t *req = x->req;
    apr_pool_t *orig = x->db->pool;
    const char *order, *sql;
    int n = x->n, rc;

    x->res = NULL;
    apr_pool_clear(x->bpool);
    order = it_page_order_sql(x->bpool, &x->pg, "i.id");
    sql = apr_pstrcat(x->bpool, IT_EXPORT_SELECT, x->pg.sort->column,
                      ")::text FROM (SELECT i.* FROM ",
                      x->fenced ? "(SELECT * FROM issues i" : "issues i", x->where,
                      " AND ", it_page_keyset_sql(x->bpool, &x->pg, "i.id", n + 1),
                      x->fenced ? " OFFSET 0) i " : " ", order,
                      " LIMIT " IT_EXPORT_BATCH_SQL ") i"
                      " JOIN projects p ON p.id = i.project_id"
                      " LEFT JOIN users u ON u.id = i.assignee_id ", order, NULL);
    if (x->pg.after_id) {
        x->params[n++] = x->pg.after_key;
        x->params[n++] = x->pg.after_id;
    }
    /* the result (and its PGresult cleanup) goes to the batch's pool */
    x->db->pool = x->bpool;
    rc = it_db_exec(x->db, &x->res, sql, n, x->params);
    x->db->pool = orig;
    if (rc != 0) {
        /* the error outlives the batch pool */
        x->db->err.message = apr_pstrdup(req->pool, x->db->err.message
                                         ? x->db->err.message : "");
        if (x->db->err.constraint) {
            x->db->err.constraint = apr_pstrdup(req->pool, x->db->err.constraint);
        }
        x->res = NULL;
        return -1;
    }
    return 0;
}

/* Remembers the last row's sort key and id: the next batch starts after. */
static void it_export_advance(struct it_export_t *x)
{
    const it_dbres_t *res = x->res;
    const char *id = it_dbres_get(res, res->nrows - 1, IT_X_NCOLS);
    const char *key = it_dbres_get(res, res->nrows - 1, IT_X_NCOLS + 1);
    apr_size_t klen = strlen(key ? key : "");

    apr_cpystrn(x->after_id, id, sizeof(x->after_id));
    if (klen + 1 > x->after_key_cap) {
        x->after_key_cap = klen + 1 > 1024 ? klen + 1 : 1024;
        x->after_key = apr_palloc(x->req->pool, x->after_key_cap);
    }
    memcpy(x->after_key, key ? key : "", klen + 1);
    x->pg.after_id = x->after_id;
    x->pg.after_key = x->after_key;
}

/* ---- writing ----------------------------------------------------------------- */

static void it_export_flush(struct it_export_t *x, int flush)
{
    if (!x->failed && (x->len || flush)
        && x->write(x->req, x->buf, x->len, flush) != 0) {
        x->failed = 1;
    }
    x->len = 0;
}

static void it_export_put(struct it_export_t *x, const char *s, apr_size_t n)
{
    while (n && !x->failed) {
        apr_size_t room = IT_EXPORT_BUF - x->len, k = n < room ? n : room;
        memcpy(x->buf + x->len, s, k);
        x->len += k;
        s += k;
        n -= k;
        if (x->len == IT_EXPORT_BUF) {
            it_export_flush(x, 0);
        }
    }
}

/* One field, RFC 4180, with the formula guard (it_csv.h: the import
 * removes it again). */
static void it_export_field(struct it_export_t *x, const char *v)
{
    const char *p, *q;
    int guard, quote;

    if (!v || !*v) {
        return;
    }
    guard = it_csv_needs_guard(v, strlen(v));
    quote = strpbrk(v, ",\"\r\n") != NULL;
    if (quote) {
        it_export_put(x, "\"", 1);
    }
    if (guard) {
        it_export_put(x, "'", 1);
    }
    for (p = v; (q = strchr(p, '"')); p = q + 1) {
        it_export_put(x, p, (apr_size_t)(q - p) + 1);
        it_export_put(x, "\"", 1);
    }
    it_export_put(x, p, strlen(p));
    if (quote) {
        it_export_put(x, "\"", 1);
    }
}

static void it_export_rows(struct it_export_t *x)
{
    const it_dbres_t *res = x->res;
    int r, c;

    for (r = 0; r < res->nrows && !x->failed; r++) {
        for (c = 0; c < x->ncols; c++) {
            if (c) {
                it_export_put(x, ",", 1);
            }
            it_export_field(x, it_dbres_get(res, r, x->cols[c]));
        }
        it_export_put(x, "\r\n", 2);
    }
}

static int it_export_stream(it_req_t *req, void *ctx, it_write_fn write)
{
    struct it_export_t *x = ctx;
    int c;

    x->write = write;
    x->buf = apr_palloc(req->pool, IT_EXPORT_BUF);
    for (c = 0; c < x->ncols; c++) {
        if (c) {
            it_export_put(x, ",", 1);
        }
        it_export_put(x, it_export_names[x->cols[c]], strlen(it_export_names[x->cols[c]]));
    }
    it_export_put(x, "\r\n", 2);
    while (x->res && !x->failed) {
        int full = x->res->nrows == IT_EXPORT_BATCH;

        it_export_rows(x);
        if (!full) {
            break;
        }
        it_export_advance(x);
        /* what is written goes out while the next batch is fetched */
        it_export_flush(x, 1);
        if (it_export_fetch(x) != 0) {
            if (req->log) {
                req->log(req, 3 /* APLOG_ERR */,
                         apr_pstrcat(req->pool, "CSV export: a batch failed: ",
                                     x->db->err.message, NULL));
            }
            return -1;
        }
    }
    it_export_flush(x, 1);
    return x->failed ? -1 : 0;
}

int it_issue_export(it_req_t *req, it_resp_t *resp,
                    const it_issue_export_opts_t *opts, const it_page_t *pg,
                    const char *where, const char *const *params, int n,
                    int fenced, int empty)
{
    struct it_export_t *x = apr_pcalloc(req->pool, sizeof(*x));

    x->req = req;
    x->pg = *pg;
    x->where = where;
    x->n = n;
    x->params = apr_pcalloc(req->pool, sizeof(*x->params) * ((size_t)n + 2));
    memcpy(x->params, params, sizeof(*params) * (size_t)n);
    x->fenced = fenced;
    x->empty = empty;
    memcpy(x->cols, opts->cols, sizeof(x->cols));
    x->ncols = opts->ncols;
    if (!empty) {
        if (!(x->db = it_req_db(req))) {
            return it_problem_db(resp, NULL);
        }
        if (apr_pool_create(&x->bpool, req->pool) != APR_SUCCESS) {
            return it_problem(resp, 503, "unavailable", "Out of memory; retry later");
        }
        /* the first batch before the headers: its errors are problems */
        if (it_export_fetch(x) != 0) {
            return it_problem_db(resp, x->db);
        }
    }
    resp->json = NULL;
    resp->raw = NULL;
    resp->raw_len = 0;
    resp->status = 200;
    resp->content_type = IT_EXPORT_CTYPE;
    apr_table_setn(resp->headers, "Content-Disposition",
                   "attachment; filename=\"issues.csv\"");
    apr_table_setn(resp->headers, "Vary", "Accept");
    resp->stream = it_export_stream;
    resp->stream_ctx = x;
    return 200;
}
