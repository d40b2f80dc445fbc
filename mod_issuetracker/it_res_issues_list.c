/*
 * it_res_issues_list.c -- GET /api/v1/issues: the filtered, sorted, paged
 * issue list, the hot path of the tracker (DESIGN.md sections 3 and 4).
 *
 * One static statement: every filter is a fixed predicate guarded by its
 * own parameter, `($n IS NULL OR col = $n)`, with NULL bound for an absent
 * filter. it_db sends unnamed statements (PQexecParams), which PostgreSQL
 * plans with the bound values every time, so the guards fold away and the
 * planner sees exactly the predicates that are present and picks the
 * partial indexes for them (docs/queries.md has the plans on 100k issues).
 * Enum filters take comma lists, checked against static tables; one value
 * is bound as text (`status = $1` lets (status, created_at, id) return rows
 * in created_at order), several as an array literal made of the table's
 * own strings, never of the client's bytes.
 *
 * The parts chosen per request are static fragments too: the ORDER BY and
 * keyset predicate of the validated sort (it_page), the LIMIT, and a fence.
 * ORDER BY ... LIMIT 21 tempts the planner to walk an index in sort order
 * and filter, expecting to meet 21 matches soon; for a rare word, a label
 * or a user with few issues it walks the whole index (80-140 ms on 100k
 * issues, growing with the table). So when q is given, or when a filter
 * with a bounded set of rows (assignee, creator, label, project) is given
 * but no index returns its rows in the requested order, the filtering runs
 * behind an OFFSET 0 fence, which the planner plans for all matching rows
 * (GIN, bitmap and BitmapAnd scans) and only those are sorted: the cost is
 * bounded by the matches, not by the table.
 */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "it_router.h"
#include "it_problem.h"
#include "it_json.h"
#include "it_db.h"
#include "it_dispatch.h"
#include "it_auth.h"
#include "it_page.h"
#include "it_workflow.h"
#include "it_issues.h"

#define IT_ISSUE_Q_MAX 200
#define IT_LABEL_NAME_MAX 50

static const char *const it_issue_priorities[] = {
    "low", "medium", "high", "critical", NULL
};
static const char *const it_issue_types[] = { "bug", "feature", "task", NULL };

/* Every sort column is NOT NULL, so the keyset row comparison is exact;
 * each has a partial index ending in id (001 and 003). */
static const it_sort_t it_issue_sorts[] = {
    { "created_at", "i.created_at",    "timestamptz" },
    { "updated_at", "i.updated_at",    "timestamptz" },
    { "priority",   "i.priority_rank", "smallint" },
    { "number",     "i.number",        "integer" },
    { "title",      "i.title",         "text" },
    { NULL, NULL, NULL }
};


static const char *const it_issue_list_params[] = {
    "status", "priority", "type", "assignee_id", "creator_id", "project_id",
    "label", "q", "created_after", "created_before", "updated_after",
    "format", "columns",         /* the CSV export: it_res_export.c */
    NULL
};

/* Parameters, NULL = filter absent:
 *   $1 status, $2 status[]    $3 priority, $4 priority[]   $5 type, $6 type[]
 *   $7 assignee_id            $8 unassigned (boolean, never NULL)
 *   $9 creator_id             $10 project_id               $11 q
 *   $12 created_after         $13 created_before           $14 updated_after
 *   $15 include_deleted (boolean, never NULL)
 * then $16, the label, only when given: its EXISTS must be a top-level
 * conjunct to become a semi-join (the planner pulls sublinks up before it
 * folds the guards), so it is a fragment of its own; then the keyset's. */
enum {
    IT_P_STATUS, IT_P_STATUSES, IT_P_PRIORITY, IT_P_PRIORITIES, IT_P_TYPE,
    IT_P_TYPES, IT_P_ASSIGNEE, IT_P_UNASSIGNED, IT_P_CREATOR, IT_P_PROJECT,
    IT_P_Q, IT_P_CREATED_AFTER, IT_P_CREATED_BEFORE, IT_P_UPDATED_AFTER,
    IT_P_INCLUDE_DELETED,
    IT_ISSUE_LIST_NPARAMS        /* 15; the label is $16 */
};
#define IT_ISSUE_LIST_WHERE \
    " WHERE ($1::text IS NULL OR i.status = $1::text)" \
    " AND ($2::text[] IS NULL OR i.status = ANY ($2::text[]))" \
    " AND ($3::text IS NULL OR i.priority = $3::text)" \
    " AND ($4::text[] IS NULL OR i.priority = ANY ($4::text[]))" \
    " AND ($5::text IS NULL OR i.type = $5::text)" \
    " AND ($6::text[] IS NULL OR i.type = ANY ($6::text[]))" \
    " AND ($7::uuid IS NULL OR i.assignee_id = $7::uuid)" \
    " AND (NOT $8::boolean OR i.assignee_id IS NULL)" \
    " AND ($9::uuid IS NULL OR i.creator_id = $9::uuid)" \
    " AND ($10::uuid IS NULL OR i.project_id = $10::uuid)" \
    " AND ($11::text IS NULL" \
    " OR i.search @@ websearch_to_tsquery('simple', $11::text))" \
    " AND ($12::timestamptz IS NULL OR i.created_at >= $12::timestamptz)" \
    " AND ($13::timestamptz IS NULL OR i.created_at <= $13::timestamptz)" \
    " AND ($14::timestamptz IS NULL OR i.updated_at >= $14::timestamptz)" \
    " AND ($15::boolean OR NOT i.is_deleted)"

/* Live labels only, by id or by name (case-insensitive, as
 * labels_name_lower_key). */
#define IT_ISSUE_LABEL_EXISTS \
    " AND EXISTS (SELECT 1 FROM issue_labels il" \
    " JOIN labels l ON l.id = il.label_id" \
    " WHERE il.issue_id = i.id AND NOT l.is_deleted AND "
static const char it_issue_label_by_id[] =
    IT_ISSUE_LABEL_EXISTS "l.id = $16::uuid)";
static const char it_issue_label_by_name[] =
    IT_ISSUE_LABEL_EXISTS "lower(l.name) = lower($16::text))";

/* Bit i stands for it_issue_sorts[i]. */
#define IT_BY_CREATED  0x01u
#define IT_BY_UPDATED  0x02u
#define IT_BY_PRIORITY 0x04u
#define IT_BY_NUMBER   0x08u

/* Equality filters whose rows one index finds, and the sorts in which an
 * index returns them in order (sql/001, sql/003). With one of those sorts
 * the planner walks that index; otherwise their rows are collected first
 * (the fence). A label has no such index; q is always collected: a word
 * can be rare in any project and for any user. */
typedef struct {
    int slot;                    /* params[] index */
    unsigned ordered;
} it_issue_bounded_t;

static const it_issue_bounded_t it_issue_bounded[] = {
    { IT_P_ASSIGNEE, IT_BY_CREATED },
    { IT_P_CREATOR,  IT_BY_CREATED },
    { IT_P_PROJECT,  IT_BY_CREATED | IT_BY_UPDATED | IT_BY_PRIORITY | IT_BY_NUMBER },
    { -1, 0 }
};

/* The filters of one request, as the statement needs them. */
typedef struct {
    const char *params[IT_ISSUE_LIST_NPARAMS + 3];
    int n;                       /* parameters bound */
    const char *label_sql;       /* it_issue_label_by_*, or "" */
} it_issue_filter_t;

/* A comma list of values from `values` (NULL terminated, at most 16).
 * One distinct value -> *one; several -> *many, an array literal made of
 * the table's strings; all of them -> neither (no filter). Returns -1 after
 * adding an error naming the parameter, 0 when absent or all, 1 if set. */
static int it_issue_enum_list(it_req_t *req, const char *name,
                              const char *const *values, const char **one,
                              const char **many, json_t **errors)
{
    const char *v = apr_table_get(req->query, name);
    unsigned seen = 0;
    int nvalues, k, count = 0;
    const char *list = NULL;

    if (!v) {
        return 0;
    }
    for (nvalues = 0; values[nvalues]; nvalues++)
        ;
    for (;;) {
        const char *end = strchr(v, ',');
        size_t len = end ? (size_t)(end - v) : strlen(v);
        for (k = 0; k < nvalues; k++) {
            if (strlen(values[k]) == len && !strncmp(values[k], v, len)) {
                break;
            }
        }
        if (k == nvalues) {
            for (k = 0; k < nvalues; k++) {
                list = list ? apr_pstrcat(req->pool, list, ", ", values[k], NULL)
                            : values[k];
            }
            *errors = it_problem_error_add(*errors, name, "enum",
                          apr_pstrcat(req->pool, "must be one of: ", list,
                                      " (several separated by commas)", NULL));
            return -1;
        }
        seen |= 1u << k;
        if (!end) {
            break;
        }
        v = end + 1;
    }
    for (k = 0; k < nvalues; k++) {
        if (seen & (1u << k)) {
            count++;
            list = list ? apr_pstrcat(req->pool, list, ",", values[k], NULL) : values[k];
        }
    }
    if (count == nvalues) {
        return 0;                   /* every value: the filter filters nothing */
    }
    if (count == 1) {
        *one = list;
    }
    else {
        *many = apr_pstrcat(req->pool, "{", list, "}", NULL);
    }
    return 1;
}

static int it_days_in_month(int y, int m)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

static int it_digits(const char *s, int n, int *out)
{
    int i, v = 0;
    for (i = 0; i < n; i++) {
        if (!apr_isdigit(s[i])) {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* 1 if v is a date-time PostgreSQL accepts as the instant it means: an RFC
 * 3339 date-time or date (what it_query_timestamp lets through), or
 * PostgreSQL's own timestamptz text ("2026-11-25 13:45:00.123456+00", the
 * cursor's key). Checks the calendar too: PostgreSQL must never see a value
 * it rejects (that would be its error, not a 422 naming the parameter). */
static int it_issue_ts_valid(const char *v)
{
    int y, mo, d, h, mi, s, zh, zm = 0, n;

    if (it_digits(v, 4, &y) || v[4] != '-' || it_digits(v + 5, 2, &mo)
        || v[7] != '-' || it_digits(v + 8, 2, &d)) {
        return 0;
    }
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > it_days_in_month(y, mo)) {
        return 0;
    }
    v += 10;
    if (!*v) {
        return 1;
    }
    if ((*v != 'T' && *v != 't' && *v != ' ') || it_digits(v + 1, 2, &h)
        || v[3] != ':' || it_digits(v + 4, 2, &mi) || v[6] != ':'
        || it_digits(v + 7, 2, &s) || h > 23 || mi > 59 || s > 60) {
        return 0;
    }
    v += 9;
    if (*v == '.') {
        for (v++, n = 0; apr_isdigit(*v); v++, n++)
            ;
        if (n < 1 || n > 6) {
            return 0;
        }
    }
    if ((*v == 'Z' || *v == 'z') && !v[1]) {
        return 1;
    }
    if ((*v != '+' && *v != '-') || it_digits(v + 1, 2, &zh)) {
        return 0;
    }
    v += 3;
    if (*v == ':') {
        if (it_digits(v + 1, 2, &zm)) {
            return 0;
        }
        v += 3;
    }
    /* PostgreSQL's limit on a zone displacement */
    return !*v && zh <= 15 && zm <= 59;
}

static int it_issue_ts_param(it_req_t *req, const char *name, const char **out,
                             json_t **errors)
{
    int rc = it_query_timestamp(req, name, out, errors);

    if (rc > 0 && !it_issue_ts_valid(*out)) {
        *out = NULL;
        *errors = it_problem_error_add(*errors, name, "range",
                      "is not a valid date or date-time (RFC 3339, e.g. "
                      "2026-11-25T13:45:00Z)");
        return -1;
    }
    return rc;
}

/* The cursor's key must be what the sort column's ::text produced: the
 * checksum stops accidents, not forgers, and a forged key must be a 400,
 * never PostgreSQL's cast error. */
static int it_issue_cursor_key_valid(const it_page_t *pg)
{
    const char *k = pg->after_key, *type = pg->sort->type;
    size_t i, n = strlen(k);

    if (!strcmp(type, "timestamptz")) {
        return it_issue_ts_valid(k);
    }
    if (!strcmp(type, "smallint") || !strcmp(type, "integer")) {
        if (n < 1 || n > 9) {
            return 0;
        }
        for (i = (k[0] == '-'); i < n; i++) {
            if (!apr_isdigit(k[i])) {
                return 0;
            }
        }
        return n > (size_t)(k[0] == '-');
    }
    return 1;                       /* text: any string is a value */
}

static int it_issue_blank(const char *s)
{
    for (; *s; s++) {
        if (!apr_isspace(*s)) {
            return 0;
        }
    }
    return 1;
}

/* websearch_to_tsquery('simple', q) finds lexemes only in letters and
 * digits; without any, PostgreSQL logs a NOTICE and matches nothing. */
static int it_issue_q_has_words(const char *q)
{
    for (; *q; q++) {
        if (apr_isalnum(*q) || (unsigned char)*q >= 0x80) {
            return 1;
        }
    }
    return 0;
}

/* 1 if the filtering must run behind the fence (see the top of this file). */
static int it_issue_fenced(const it_issue_filter_t *f, const it_page_t *pg)
{
    unsigned bit = 1u << (pg->sort - it_issue_sorts);
    const it_issue_bounded_t *b;
    int bounded = *f->label_sql != '\0';

    if (f->params[IT_P_Q]) {
        return 1;
    }
    for (b = it_issue_bounded; b->slot >= 0; b++) {
        if (f->params[b->slot]) {
            if (b->ordered & bit) {
                return 0;            /* an index has them in order: walk it */
            }
            bounded = 1;
        }
    }
    return bounded;
}

/* Validates every filter into f; errors name their parameter. Returns 1
 * if q has no word in it (nothing can match). */
static int it_issue_filters(it_req_t *req, it_issue_filter_t *f, json_t **errors)
{
    const char *v, *q, *label;
    int no_words = 0;

    memset(f, 0, sizeof(*f));
    f->n = IT_ISSUE_LIST_NPARAMS;
    it_issue_enum_list(req, "status", it_statuses, &f->params[IT_P_STATUS],
                       &f->params[IT_P_STATUSES], errors);
    it_issue_enum_list(req, "priority", it_issue_priorities,
                       &f->params[IT_P_PRIORITY], &f->params[IT_P_PRIORITIES],
                       errors);
    it_issue_enum_list(req, "type", it_issue_types, &f->params[IT_P_TYPE],
                       &f->params[IT_P_TYPES], errors);
    f->params[IT_P_UNASSIGNED] = "false";
    v = apr_table_get(req->query, "assignee_id");
    if (v && !strcmp(v, "none")) {
        f->params[IT_P_UNASSIGNED] = "true";
    }
    else if (v && !it_is_uuid(v)) {
        *errors = it_problem_error_add(*errors, "assignee_id", "format",
                                       "must be a UUID or none (unassigned)");
    }
    else {
        f->params[IT_P_ASSIGNEE] = v;
    }
    it_query_uuid(req, "creator_id", &f->params[IT_P_CREATOR], errors);
    it_query_uuid(req, "project_id", &f->params[IT_P_PROJECT], errors);
    q = apr_table_get(req->query, "q");
    if (q && it_issue_blank(q)) {
        q = NULL;                    /* an empty search box filters nothing */
    }
    if (q && it_utf8_len(q) > IT_ISSUE_Q_MAX) {
        *errors = it_problem_error_add(*errors, "q", "too_long",
                                       "must be at most 200 characters long");
    }
    else if (q) {
        f->params[IT_P_Q] = q;
        no_words = !it_issue_q_has_words(q);
    }
    it_issue_ts_param(req, "created_after", &f->params[IT_P_CREATED_AFTER], errors);
    it_issue_ts_param(req, "created_before", &f->params[IT_P_CREATED_BEFORE], errors);
    it_issue_ts_param(req, "updated_after", &f->params[IT_P_UPDATED_AFTER], errors);
    f->label_sql = "";
    label = apr_table_get(req->query, "label");
    if (label && (!*label || it_utf8_len(label) > IT_LABEL_NAME_MAX)) {
        *errors = it_problem_error_add(*errors, "label", "format",
                                       "must be a label id or a name of 1-50 characters");
    }
    else if (label) {
        f->params[f->n++] = label;
        f->label_sql = it_is_uuid(label) ? it_issue_label_by_id : it_issue_label_by_name;
    }
    return no_words;
}

static int it_issue_list(it_req_t *req, it_resp_t *resp)
{
    json_t *errors = NULL;
    it_page_t pg;
    it_issue_filter_t f;
    const char *where, *sql, *order;
    it_db_t *db;
    it_dbres_t *res = NULL;
    long total = -1;
    int rc, no_words, fenced, csv;
    it_issue_export_opts_t export_opts;

    it_query_known(req, it_issue_list_params, &errors);
    if ((rc = it_page_parse(req, resp, it_issue_sorts, "created_at", &pg,
                            &errors)) != 0) {
        json_decref(errors);
        return rc;
    }
    if (pg.after_id && !it_issue_cursor_key_valid(&pg)) {
        json_decref(errors);
        return it_problem(resp, 400, "invalid_cursor",
                          "The cursor is not one this API issued; start "
                          "again without it");
    }
    no_words = it_issue_filters(req, &f, &errors);
    csv = it_issue_export_parse(req, &export_opts, &errors);
    if (errors) {
        return it_problem_validation(resp, errors);
    }
    if (pg.include_deleted && (rc = it_auth_require(req, resp, "deleted.read", 0))) {
        return rc;
    }
    f.params[IT_P_INCLUDE_DELETED] = pg.include_deleted ? "true" : "false";
    if (csv) {
        /* every matching issue, streamed as CSV (no page limit) */
        return it_issue_export(req, resp, &export_opts, &pg,
                               apr_pstrcat(req->pool, IT_ISSUE_LIST_WHERE,
                                           f.label_sql, NULL),
                               f.params, f.n, it_issue_fenced(&f, &pg), no_words);
    }
    if (no_words) {
        /* nothing can match; spare the database the query and its NOTICE */
        return it_page_respond(req, resp, &pg, NULL, NULL, NULL, 0,
                               pg.include_total ? 0 : -1);
    }
    if (!(db = it_req_db(req))) {
        return it_problem_db(resp, NULL);
    }
    where = apr_pstrcat(req->pool, IT_ISSUE_LIST_WHERE, f.label_sql, NULL);
    if (pg.include_total) {
        /* no join: every issue has its project (foreign key) */
        it_dbres_t *cnt;
        sql = apr_pstrcat(req->pool, "SELECT count(*) FROM issues i", where, NULL);
        if (it_db_exec(db, &cnt, sql, f.n, f.params) != 0) {
            return it_problem_db(resp, db);
        }
        total = atol(it_dbres_get(cnt, 0, 0));
    }
    /* The page is chosen in a subquery and the documents are built outside
     * it: an OFFSET skips rows without building their JSON, and the join
     * to projects sees only the page. */
    fenced = it_issue_fenced(&f, &pg);
    order = it_page_order_sql(req->pool, &pg, "i.id");
    sql = apr_pstrcat(req->pool, "SELECT ",
                      pg.include_deleted ? IT_ISSUE_DOC_ANY : IT_ISSUE_JSON_SQL,
                      ", i.id, (", pg.sort->column, ")::text FROM (SELECT i.* FROM ",
                      fenced ? "(SELECT * FROM issues i" : "issues i", where, " AND ",
                      it_page_keyset_sql(req->pool, &pg, "i.id", f.n + 1),
                      fenced ? " OFFSET 0) i " : " ", order, " ",
                      it_page_limit_sql(req->pool, &pg),
                      ") i JOIN projects p ON p.id = i.project_id ", order, NULL);
    if (pg.after_id) {
        f.params[f.n++] = pg.after_key;
        f.params[f.n++] = pg.after_id;
    }
    if (it_db_exec(db, &res, sql, f.n, f.params) != 0) {
        return it_problem_db(resp, db);
    }
    return it_page_respond_res(req, resp, &pg, res, 0, 1, 2, total);
}

static const it_route_t it_issues_list_routes[] = {
    { "GET", IT_API_BASE "/issues", it_issue_list, "issues.list", 0 },
    { NULL, NULL, NULL, NULL, 0 }
};

const it_resource_t it_res_issues_list = { "issues_list", it_issues_list_routes };
