/*
 * it_page.c -- pagination, sorting, cursors and list envelopes.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_base64.h>
#include <sys/uio.h>

#include "it_page.h"
#include "it_config.h"
#include "it_problem.h"
#include "it_router.h"
#include "it_json.h"

#define IT_PAGE_SIZE_DEFAULT 20

/* Percent-encodes everything but RFC 3986 unreserved characters. */
static const char *it_url_escape(apr_pool_t *pool, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = apr_palloc(pool, strlen(s) * 3 + 1), *o = out;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (apr_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            *o++ = (char)c;
        }
        else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}
#define IT_CURSOR_VERSION "c1"

static const char *const it_page_params[] = {
    "page", "size", "cursor", "sort", "include_total", "include_deleted", NULL
};

static json_t *it_err(json_t **errors, const char *field, const char *code,
                      const char *msg)
{
    *errors = it_problem_error_add(*errors, field, code, msg);
    return *errors;
}

int it_query_bool(it_req_t *req, const char *name, int *out, json_t **errors)
{
    const char *v = apr_table_get(req->query, name);
    if (!v) {
        return 0;
    }
    if (!strcmp(v, "true") || !strcmp(v, "1")) {
        *out = 1;
    }
    else if (!strcmp(v, "false") || !strcmp(v, "0")) {
        *out = 0;
    }
    else {
        it_err(errors, name, "type", "must be true or false");
        return -1;
    }
    return 1;
}

int it_query_int(it_req_t *req, const char *name, long min, long max,
                 long *out, json_t **errors)
{
    const char *v = apr_table_get(req->query, name);
    char *end;
    long n;

    if (!v) {
        return 0;
    }
    if (!*v || !(apr_isdigit(*v) || (*v == '-' && apr_isdigit(v[1])))
        || strlen(v) > 18) {
        it_err(errors, name, "type", "must be an integer");
        return -1;
    }
    n = strtol(v, &end, 10);
    if (*end) {
        it_err(errors, name, "type", "must be an integer");
        return -1;
    }
    if (n < min || n > max) {
        it_err(errors, name, "range",
               apr_psprintf(req->pool, "must be between %ld and %ld", min, max));
        return -1;
    }
    *out = n;
    return 1;
}

int it_query_uuid(it_req_t *req, const char *name, const char **out,
                  json_t **errors)
{
    const char *v = apr_table_get(req->query, name);
    if (!v) {
        return 0;
    }
    if (!it_is_uuid(v)) {
        it_err(errors, name, "format", "must be a UUID");
        return -1;
    }
    *out = v;
    return 1;
}

int it_query_enum(it_req_t *req, const char *name, const char *const *values,
                  const char **out, json_t **errors)
{
    const char *v = apr_table_get(req->query, name);
    const char *const *e;
    const char *list = NULL;

    if (!v) {
        return 0;
    }
    for (e = values; *e; e++) {
        if (!strcmp(*e, v)) {
            *out = *e;
            return 1;
        }
        list = list ? apr_pstrcat(req->pool, list, ", ", *e, NULL) : *e;
    }
    it_err(errors, name, "enum", apr_pstrcat(req->pool, "must be one of: ", list, NULL));
    return -1;
}

/* RFC 3339 date-time, or a date (YYYY-MM-DD): checked here for shape so
 * that PostgreSQL never sees garbage; PostgreSQL parses the value. */
int it_query_timestamp(it_req_t *req, const char *name, const char **out,
                       json_t **errors)
{
    const char *v = apr_table_get(req->query, name);
    const char *shape = "dddd-dd-dd";
    size_t i, n;

    if (!v) {
        return 0;
    }
    n = strlen(v);
    for (i = 0; shape[i]; i++) {
        if (i >= n || (shape[i] == 'd' ? !apr_isdigit(v[i]) : v[i] != shape[i])) {
            goto bad;
        }
    }
    if (n > 10) {
        /* THH:MM:SS[.ffffff](Z|+HH:MM) */
        const char *t = v + 10;
        if ((*t != 'T' && *t != 't' && *t != ' ') || n < 20) {
            goto bad;
        }
        for (i = 1; i < 9; i++) {
            if ((i == 3 || i == 6) ? t[i] != ':' : !apr_isdigit(t[i])) {
                goto bad;
            }
        }
        t += 9;
        if (*t == '.') {
            for (t++, i = 0; apr_isdigit(*t); t++, i++)
                ;
            if (i == 0 || i > 6) {
                goto bad;
            }
        }
        if ((*t == 'Z' || *t == 'z') && t[1] == '\0') {
            /* ok */
        }
        else if ((*t == '+' || *t == '-') && apr_isdigit(t[1]) && apr_isdigit(t[2])
                 && t[3] == ':' && apr_isdigit(t[4]) && apr_isdigit(t[5]) && !t[6]) {
            /* ok */
        }
        else {
            goto bad;
        }
    }
    *out = v;
    return 1;
bad:
    it_err(errors, name, "format",
           "must be an RFC 3339 date-time (2026-11-25T13:45:00Z) or a date");
    return -1;
}

const char *it_query_like_contains(apr_pool_t *pool, const char *q)
{
    char *out = apr_palloc(pool, strlen(q) * 2 + 3), *o = out;

    *o++ = '%';
    for (; *q; q++) {
        if (*q == '%' || *q == '_' || *q == '\\') {
            *o++ = '\\';
        }
        *o++ = *q;
    }
    *o++ = '%';
    *o = '\0';
    return out;
}

int it_query_known(it_req_t *req, const char *const *known, json_t **errors)
{
    const apr_array_header_t *arr = apr_table_elts(req->query);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    int i, bad = 0;

    for (i = 0; i < arr->nelts; i++) {
        const char *const *k;
        int found = 0, j;
        for (k = known; *k && !found; k++) {
            found = !strcmp(*k, e[i].key);
        }
        for (k = it_page_params; *k && !found; k++) {
            found = !strcmp(*k, e[i].key);
        }
        if (!found) {
            it_err(errors, e[i].key, "unknown_parameter", "is not a known parameter");
            bad = 1;
            continue;
        }
        for (j = 0; j < i; j++) {
            if (!strcmp(e[j].key, e[i].key)) {
                it_err(errors, e[i].key, "duplicate",
                       "is given more than once (use a comma-separated list)");
                bad = 1;
                break;
            }
        }
    }
    return bad ? -1 : 0;
}

/* FNV-1a over the cursor text: catches corruption and casual edits. Tampering
 * can at most move the position, as every value is a bound parameter. */
static unsigned long it_cursor_sum(const char *s)
{
    unsigned long h = 1469598103934665603UL;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211UL;
    }
    return h & 0xffffffffffUL;
}

const char *it_page_cursor(apr_pool_t *pool, const it_page_t *pg,
                           const char *key, const char *id)
{
    const char *plain = apr_pstrcat(pool, IT_CURSOR_VERSION, "\n", pg->sort->name,
                                    "\n", pg->desc ? "d" : "a", "\n", id, "\n",
                                    key ? key : "", NULL);
    const char *signed_ = apr_psprintf(pool, "%s\n%010lx", plain, it_cursor_sum(plain));
    int len = apr_base64_encode_len((int)strlen(signed_));
    char *out = apr_palloc(pool, len);
    char *p;

    apr_base64_encode(out, signed_, (int)strlen(signed_));
    /* base64url without padding: safe in a query string as is */
    for (p = out; *p; p++) {
        if (*p == '+') *p = '-';
        else if (*p == '/') *p = '_';
        else if (*p == '=') { *p = '\0'; break; }
    }
    return out;
}

static int it_cursor_decode(apr_pool_t *pool, const char *in, const it_sort_t *sorts,
                            it_page_t *pg)
{
    size_t n = strlen(in), i;
    char *b64, *plain, *f[6], *state = NULL, *sum;
    int len, k;
    const it_sort_t *s;

    if (n == 0 || n > 2048) {
        return -1;
    }
    b64 = apr_palloc(pool, n + 4);
    for (i = 0; i < n; i++) {
        char c = in[i];
        if (c == '-') c = '+';
        else if (c == '_') c = '/';
        else if (!apr_isalnum(c)) return -1;
        b64[i] = c;
    }
    while (i % 4) {
        b64[i++] = '=';
    }
    b64[i] = '\0';
    plain = apr_palloc(pool, apr_base64_decode_len(b64) + 1);
    len = apr_base64_decode(plain, b64);
    if (len <= 0) {
        return -1;
    }
    plain[len] = '\0';
    if (strlen(plain) != (size_t)len) {
        return -1;
    }
    sum = strrchr(plain, '\n');
    if (!sum) {
        return -1;
    }
    *sum++ = '\0';
    if (strtoul(sum, NULL, 16) != it_cursor_sum(plain)) {
        return -1;
    }
    /* version, sort, direction, id, key (key may be empty: NULL sort key) */
    f[0] = apr_strtok(plain, "\n", &state);
    for (k = 1; k < 4; k++) {
        f[k] = apr_strtok(NULL, "\n", &state);
    }
    f[4] = state ? state : "";
    if (!f[0] || strcmp(f[0], IT_CURSOR_VERSION) || !f[1] || !f[2] || !f[3]
        || !it_is_uuid(f[3])) {
        return -1;
    }
    for (s = sorts; s->name; s++) {
        if (!strcmp(s->name, f[1])) {
            break;
        }
    }
    if (!s->name) {
        return -1;
    }
    pg->sort = s;
    pg->desc = !strcmp(f[2], "d");
    pg->after_id = f[3];
    pg->after_key = f[4];
    return *f[4] ? 0 : -1;
}

int it_page_parse(it_req_t *req, it_resp_t *resp, const it_sort_t *sorts,
                  const char *default_sort, it_page_t *pg, json_t **errors)
{
    long v;
    const char *sort, *cursor;
    int maxsize = (req->cfg && req->cfg->page_size_max > 0)
                  ? req->cfg->page_size_max : 100;

    memset(pg, 0, sizeof(*pg));
    pg->page = 1;
    pg->size = IT_PAGE_SIZE_DEFAULT < maxsize ? IT_PAGE_SIZE_DEFAULT : maxsize;
    if (it_query_int(req, "page", 1, 10000000, &v, errors) > 0) {
        pg->page = (int)v;
    }
    if (it_query_int(req, "size", 1, maxsize, &v, errors) > 0) {
        pg->size = (int)v;
    }
    it_query_bool(req, "include_total", &pg->include_total, errors);
    it_query_bool(req, "include_deleted", &pg->include_deleted, errors);

    sort = apr_table_get(req->query, "sort");
    if (!sort) {
        sort = default_sort;
    }
    pg->desc = (*sort == '-');
    {
        const char *name = (*sort == '-' || *sort == '+') ? sort + 1 : sort;
        const it_sort_t *s;
        const char *list = NULL;
        for (s = sorts; s->name; s++) {
            if (!strcmp(s->name, name)) {
                pg->sort = s;
                break;
            }
            list = list ? apr_pstrcat(req->pool, list, ", ", s->name, NULL) : s->name;
        }
        if (!pg->sort) {
            for (; s->name; s++) {
                list = apr_pstrcat(req->pool, list, ", ", s->name, NULL);
            }
            it_err(errors, "sort", "enum",
                   apr_pstrcat(req->pool, "must be one of: ", list,
                               " (prefix - for descending)", NULL));
            pg->sort = sorts;
        }
    }
    cursor = apr_table_get(req->query, "cursor");
    if (cursor) {
        const it_sort_t *chosen = pg->sort;
        int desc = pg->desc;
        if (it_cursor_decode(req->pool, cursor, sorts, pg) != 0) {
            return it_problem(resp, 400, "invalid_cursor",
                              "The cursor is not one this API issued; start "
                              "again without it");
        }
        if (apr_table_get(req->query, "sort") && (chosen != pg->sort || desc != pg->desc)) {
            return it_problem(resp, 400, "invalid_cursor",
                              "The cursor was issued for another sort order");
        }
        pg->page = 1;               /* a cursor replaces the offset */
    }
    return 0;
}

/* Sort columns are NOT NULL (the allow-lists only name such columns), so
 * a row comparison is an exact keyset predicate. */
const char *it_page_order_sql(apr_pool_t *pool, const it_page_t *pg,
                              const char *id_col)
{
    const char *dir = pg->desc ? " DESC" : " ASC";
    return apr_pstrcat(pool, "ORDER BY ", pg->sort->column, dir, ", ", id_col,
                       dir, NULL);
}

const char *it_page_keyset_sql(apr_pool_t *pool, const it_page_t *pg,
                               const char *id_col, int n)
{
    if (!pg->after_id) {
        return "true";
    }
    return apr_psprintf(pool, "(%s, %s) %s ($%d::%s, $%d::uuid)",
                        pg->sort->column, id_col, pg->desc ? "<" : ">", n,
                        pg->sort->type, n + 1);
}

const char *it_page_limit_sql(apr_pool_t *pool, const it_page_t *pg)
{
    long offset = pg->after_id ? 0 : (long)(pg->page - 1) * pg->size;
    return apr_psprintf(pool, "LIMIT %d OFFSET %ld", pg->size + 1, offset);
}

int it_page_respond(it_req_t *req, it_resp_t *resp, const it_page_t *pg,
                    const char *const *items, const char *const *keys,
                    const char *const *ids, int nrows, long total)
{
    int has_more = nrows > pg->size;
    int n = has_more ? pg->size : nrows;
    struct iovec *vec = apr_palloc(req->pool, sizeof(*vec) * (2 * (size_t)n + 2));
    const char *next = NULL, *tail;
    int i, k = 0;
    apr_size_t len;
    char *body;

    vec[k].iov_base = (void *)"{\"items\":[";
    vec[k++].iov_len = 10;
    for (i = 0; i < n; i++) {
        if (i) {
            vec[k].iov_base = (void *)",";
            vec[k++].iov_len = 1;
        }
        const char *item = it_json_compact(req->pool, items[i]);
        vec[k].iov_base = (void *)item;
        vec[k++].iov_len = strlen(item);
    }
    if (has_more) {
        next = it_page_cursor(req->pool, pg, keys[n - 1], ids[n - 1]);
    }
    tail = apr_psprintf(req->pool, "],\"page\":%d,\"size\":%d,\"has_more\":%s,"
                        "\"next_cursor\":%s%s%s%s", pg->page, pg->size,
                        has_more ? "true" : "false",
                        next ? "\"" : "null", next ? next : "", next ? "\"" : "",
                        total >= 0 ? apr_psprintf(req->pool,
                            ",\"total\":%ld,\"pages\":%ld", total,
                            (total + pg->size - 1) / pg->size) : "");
    body = apr_pstrcatv(req->pool, vec, k, &len);
    body = apr_pstrcat(req->pool, body, tail, "}", NULL);
    resp->raw = body;
    resp->raw_len = strlen(body);
    resp->json = NULL;
    resp->content_type = "application/json";
    resp->status = 200;
    if (next) {
        /* keep the caller's filters and size; replace page/cursor */
        const apr_array_header_t *arr = apr_table_elts(req->query);
        const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
        const char *qs = apr_pstrcat(req->pool, "cursor=", next, NULL);
        for (i = 0; i < arr->nelts; i++) {
            if (!strcmp(e[i].key, "cursor") || !strcmp(e[i].key, "page")) {
                continue;
            }
            qs = apr_pstrcat(req->pool, qs, "&", it_url_escape(req->pool, e[i].key),
                             "=", it_url_escape(req->pool, e[i].val), NULL);
        }
        apr_table_setn(resp->headers, "Link",
                       apr_pstrcat(req->pool, "<", req->path, "?", qs,
                                   ">; rel=\"next\"", NULL));
    }
    return 200;
}

int it_page_respond_res(it_req_t *req, it_resp_t *resp, const it_page_t *pg,
                        const it_dbres_t *res, int doc, int id, int key,
                        long total)
{
    size_t n = (size_t)res->nrows + 1;
    const char **items = apr_palloc(req->pool, sizeof(*items) * n);
    const char **ids = apr_palloc(req->pool, sizeof(*ids) * n);
    const char **keys = apr_palloc(req->pool, sizeof(*keys) * n);
    int i;

    for (i = 0; i < res->nrows; i++) {
        items[i] = it_dbres_get(res, i, doc);
        ids[i] = it_dbres_get(res, i, id);
        keys[i] = it_dbres_get(res, i, key);
    }
    return it_page_respond(req, resp, pg, items, keys, ids, res->nrows, total);
}
