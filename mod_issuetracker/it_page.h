/*
 * it_page.h -- list parameters: page/size, keyset cursors, sort allow-lists,
 * include_total / include_deleted, the list envelope and Link headers.
 *
 * Two ways to page (DESIGN.md section 4): `page` + `size` as the reference
 * API does (OFFSET), and `cursor` (opaque keyset position) for deep or
 * stable paging. The order always ends with `id`, so pages are stable.
 * SQL is never built from client input: a sort picks a row of the
 * resource's allow-list, whose fragments are static strings.
 */
#ifndef IT_PAGE_H
#define IT_PAGE_H

#include "it_types.h"
#include "it_db.h"

typedef struct {
    const char *name;        /* sort=name / sort=-name */
    const char *column;      /* SQL expression, e.g. "i.created_at" */
    const char *type;        /* SQL type of the key, e.g. "timestamptz" */
} it_sort_t;

typedef struct {
    int page;                /* 1-based */
    int size;
    int include_total;
    int include_deleted;
    const it_sort_t *sort;
    int desc;
    const char *after_key;   /* from the cursor: sort key of the last row */
    const char *after_id;    /* and its id; NULL without a cursor */
} it_page_t;

/* Parses page, size, cursor, sort, include_total, include_deleted from
 * req->query. Validation errors are appended to *errors (422 naming the
 * parameter); a cursor that does not decode is 400 invalid_cursor (returned
 * directly, with resp filled). Returns 0 or that status. */
int it_page_parse(it_req_t *req, it_resp_t *resp, const it_sort_t *sorts,
                  const char *default_sort, it_page_t *pg, json_t **errors);

/* "ORDER BY <col> ASC, id ASC" for the chosen sort (id_col: e.g. "u.id"). */
const char *it_page_order_sql(apr_pool_t *pool, const it_page_t *pg,
                              const char *id_col);

/* The keyset predicate "(<col>, <id>) > ($n::type, $n+1::uuid)", or "true"
 * without a cursor. n is the first parameter number it uses (two). */
const char *it_page_keyset_sql(apr_pool_t *pool, const it_page_t *pg,
                               const char *id_col, int n);

/* "LIMIT <size+1> OFFSET <..>" (one extra row tells has_more). */
const char *it_page_limit_sql(apr_pool_t *pool, const it_page_t *pg);

/* Encodes the cursor for the row with this sort key and id. */
const char *it_page_cursor(apr_pool_t *pool, const it_page_t *pg,
                           const char *key, const char *id);

/* Builds the list envelope from JSON texts of the rows (at most size+1;
 * the extra one only signals has_more), sets Link rel="next". total < 0
 * means not requested. keys/ids: sort key and id of each row. */
int it_page_respond(it_req_t *req, it_resp_t *resp, const it_page_t *pg,
                    const char *const *items, const char *const *keys,
                    const char *const *ids, int nrows, long total);

/* it_page_respond for the result of a list statement: column doc holds
 * each row's JSON text, id its id, key its sort key. */
int it_page_respond_res(it_req_t *req, it_resp_t *resp, const it_page_t *pg,
                        const it_dbres_t *res, int doc, int id, int key,
                        long total);

/* Query parameter helpers shared by list filters: each appends a
 * {field: name, ...} error on a bad value and returns -1; 0 when absent. */
int it_query_bool(it_req_t *req, const char *name, int *out, json_t **errors);
int it_query_int(it_req_t *req, const char *name, long min, long max,
                 long *out, json_t **errors);
int it_query_uuid(it_req_t *req, const char *name, const char **out,
                  json_t **errors);
int it_query_enum(it_req_t *req, const char *name, const char *const *values,
                  const char **out, json_t **errors);
int it_query_timestamp(it_req_t *req, const char *name, const char **out,
                       json_t **errors);

/* A LIKE/ILIKE pattern matching q anywhere: %, _ and \ in q are escaped
 * (the default ESCAPE '\'), so q is matched literally; bind it as a
 * parameter, never format it into SQL. */
const char *it_query_like_contains(apr_pool_t *pool, const char *q);

/* Rejects parameters not in `known` (NULL terminated) with 422. */
int it_query_known(it_req_t *req, const char *const *known, json_t **errors);

#endif
