/*
 * it_types.h -- the request/response model shared by the core.
 *
 * Nothing here knows about request_rec: the glue (it_http.c) builds an
 * it_req_t from the httpd request and writes an it_resp_t back. Handlers,
 * the router, validation and the database layer only see these types, so
 * they can be unit tested without a running httpd.
 */
#ifndef IT_TYPES_H
#define IT_TYPES_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

#define IT_VERSION "0.1.0"
#define IT_API_BASE "/api/v1"
#define IT_MAX_PATH_PARAMS 4

/* Log tags: our own numbers, never httpd's AH numbers. */
#define ITLOGNO(n) "IT" #n ": "

typedef struct it_config_t it_config_t;
typedef struct it_db_t it_db_t;
typedef struct it_route_t it_route_t;
typedef struct it_req_t it_req_t;
typedef struct it_resp_t it_resp_t;
typedef struct it_caller_t it_caller_t;

/* The glue supplies these so that the core never touches request_rec. */
typedef it_db_t *(*it_db_acquire_fn)(it_req_t *req);
/* Reads the whole request body (at most `limit` bytes) into req->body.
 * Returns 0 or the HTTP status of the failure (400, 408, 413). */
typedef int (*it_body_read_fn)(it_req_t *req, apr_size_t limit);
/* Streams the request body: fills buf with up to *len bytes and sets *len
 * to what was read (0 at the end of the body). Returns 0 or the HTTP status
 * of the failure (400, 408, 413). Memory stays flat: nothing is kept. */
typedef int (*it_body_stream_fn)(it_req_t *req, char *buf, apr_size_t *len);
/* Logs an error with the request's context (error log, request id). */
typedef void (*it_log_fn)(it_req_t *req, int level, const char *msg);
/* Streamed responses (it_resp_t.stream): writes len bytes of the body to
 * the client (buffered by the glue; flush pushes what is buffered out).
 * Returns 0, or -1 when the client has gone away (stop producing). */
typedef int (*it_write_fn)(it_req_t *req, const char *buf, apr_size_t len,
                           int flush);
/* Produces a streamed body by calling write as often as it likes, after
 * the glue has sent the status and headers (no Content-Length: chunked).
 * Returns 0 when the body is complete, -1 when it failed part way: the
 * glue then aborts the response (no last chunk, connection closed), so a
 * client never takes a truncated body for a whole one. */
typedef int (*it_stream_fn)(it_req_t *req, void *ctx, it_write_fn write);

struct it_req_t {
    apr_pool_t *pool;            /* the request pool: owns everything here */
    const char *method;          /* HEAD is routed as GET with is_head set */
    int is_head;
    const char *path;            /* decoded path, e.g. /api/v1/issues/<uuid> */
    const char *params[IT_MAX_PATH_PARAMS]; /* {placeholders}, in order */
    int nparams;
    apr_table_t *query;          /* decoded query parameters (first wins) */
    apr_table_t *headers;        /* request headers (borrowed from httpd) */
    apr_table_t *env;            /* subprocess_env: validated claims only */
    const char *content_type;    /* NULL when absent */
    apr_off_t content_length;    /* -1 when unknown (chunked or absent) */
    const char *body;            /* after read_body: NUL terminated copy */
    apr_size_t body_len;
    json_t *json;                /* parsed body; borrowed, freed by the pool */
    const char *user;            /* r->user; NULL or "" means anonymous */
    const char *auth_type;       /* r->ap_auth_type ("Basic", "oauth20") */
    const it_caller_t *caller;   /* resolved by it_auth_resolve() */
    const char *request_id;      /* mod_unique_id's UNIQUE_ID or a UUID */
    int redirect_status;         /* ErrorDocument target: original status */
    const it_config_t *cfg;
    const it_route_t *route;
    it_db_acquire_fn db_acquire;
    it_body_read_fn read_body;
    it_body_stream_fn read_chunk;
    it_log_fn log;
    it_db_t *db;                 /* set by it_req_db() on first use */
    const char *session_sql;     /* re-applied when a connection is reset */
    void *glue;                  /* request_rec *, opaque to the core */
};

struct it_resp_t {
    apr_pool_t *pool;
    int status;
    apr_table_t *headers;        /* copied to err_headers_out by the glue */
    const char *content_type;
    json_t *json;                /* response document, owned via pool cleanup */
    const char *raw;             /* alternative: preformatted body */
    apr_size_t raw_len;
    int retry_after;             /* > 0: send Retry-After (seconds) */
    const char *file_path;       /* alternative: send this file (sendfile,
                                  * Range via httpd's byterange filter) */
    apr_off_t file_size;
    it_stream_fn stream;         /* alternative: a body produced while it is
                                  * sent (CSV export); see it_stream_fn. Not
                                  * called for HEAD. */
    void *stream_ctx;
};

/* Ties a jansson reference to a pool: the pool's cleanup drops it.
 * Steals the reference; returns `j` (borrowed from then on). */
json_t *it_json_pool_own(apr_pool_t *pool, json_t *j);

/* Sets the JSON response body (steals the reference) and the status. */
int it_resp_json(it_resp_t *resp, int status, json_t *body);

/* The request's database handle, acquired on first use; NULL if none. */
it_db_t *it_req_db(it_req_t *req);

#endif
