/*
 * it_http.c -- the adapter between httpd's request_rec and the core's
 * it_req_t / it_resp_t. The only place (with mod_issuetracker.c) that
 * reads or writes a request_rec.
 */
#include <string.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>
#include <apr_strings.h>
#include <apr_uuid.h>
#include <apr_dbd.h>
#include <mod_dbd.h>

#include "it_http.h"
#include "it_config.h"
#include "it_db.h"
#include "it_json.h"
#include "it_problem.h"

APLOG_USE_MODULE(issuetracker);

extern module AP_MODULE_DECLARE_DATA issuetracker_module;

static APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) *it_dbd_acquire_fn;

/* How many pooled connections to try: each stale one that mod_dbd finds
 * is invalidated, so the next acquire opens a fresh connection. */
#define IT_DBD_ACQUIRE_TRIES 3

static it_db_t *it_http_db_acquire(it_req_t *req)
{
    request_rec *r = req->glue;
    ap_dbd_t *dbd = NULL;
    it_db_t *db;
    int i;

    if (!it_dbd_acquire_fn) {
        it_dbd_acquire_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
        if (!it_dbd_acquire_fn) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ITLOGNO(1001)
                          "mod_dbd is not loaded: LoadModule dbd_module");
            return NULL;
        }
    }
    for (i = 0; i < IT_DBD_ACQUIRE_TRIES && !dbd; i++) {
        dbd = it_dbd_acquire_fn(r);
    }
    if (!dbd) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ITLOGNO(1002)
                      "no database connection available (is PostgreSQL up, "
                      "and DBDParams right?)");
        return NULL;
    }
    db = it_db_wrap(r->pool, dbd->driver, dbd->handle, req->session_sql);
    if (db && !(req->cfg && req->cfg->prepared == 0)) {
        /* the cache lives and dies with the pooled connection */
        it_db_use_prepared(db, dbd->pool);
    }
    return db;
}

/* Reads the request body through the input filters, at most `limit`
 * bytes. Returns 0 or an HTTP status (400, 408, 413). */
static int it_http_read_body(it_req_t *req, apr_size_t limit)
{
    request_rec *r = req->glue;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    char *buf;
    apr_size_t len = 0, cap = 8192;
    int seen_eos = 0;

    if (req->content_length >= 0 && (apr_size_t)req->content_length < cap) {
        cap = (apr_size_t)req->content_length + 1;
    }
    buf = apr_palloc(r->pool, cap);
    do {
        apr_bucket *b;
        apr_status_t rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                                         APR_BLOCK_READ, HUGE_STRING_LEN);
        if (rv != APR_SUCCESS) {
            int st = ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
            r->connection->keepalive = AP_CONN_CLOSE;
            return st == HTTP_REQUEST_ENTITY_TOO_LARGE ? 413
                   : st == HTTP_REQUEST_TIME_OUT ? 408 : 400;
        }
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
             b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t n;

            if (APR_BUCKET_IS_EOS(b)) {
                seen_eos = 1;
                break;
            }
            if (APR_BUCKET_IS_METADATA(b)) {
                continue;
            }
            if (apr_bucket_read(b, &data, &n, APR_BLOCK_READ) != APR_SUCCESS) {
                r->connection->keepalive = AP_CONN_CLOSE;
                return 400;
            }
            if (len + n > limit) {
                /* Do not read (or keep) the rest of an oversized body. */
                r->connection->keepalive = AP_CONN_CLOSE;
                return 413;
            }
            if (len + n + 1 > cap) {
                char *nb;
                while (len + n + 1 > cap) {
                    cap *= 2;
                }
                nb = apr_palloc(r->pool, cap);
                memcpy(nb, buf, len);
                buf = nb;
            }
            memcpy(buf + len, data, n);
            len += n;
        }
        apr_brigade_cleanup(bb);
    } while (!seen_eos);
    buf[len] = '\0';
    req->body = buf;
    req->body_len = len;
    return 0;
}

/* Streams the body in chunks through the input filters; a brigade per
 * request, reused, so memory does not grow with the upload. */
static int it_http_read_chunk(it_req_t *req, char *buf, apr_size_t *len)
{
    request_rec *r = req->glue;
    apr_bucket_brigade *bb;
    apr_status_t rv;
    apr_size_t want = *len;

    *len = 0;
    if (apr_pool_userdata_get((void **)&bb, "it_body_bb", r->pool) != APR_SUCCESS
        || !bb) {
        bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
        apr_pool_userdata_setn(bb, "it_body_bb", NULL, r->pool);
    }
    if (apr_table_get(r->notes, "it_body_eos")) {
        return 0;                       /* the body was read to its end */
    }
    rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES, APR_BLOCK_READ,
                        want);
    if (rv != APR_SUCCESS) {
        int st = ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        r->connection->keepalive = AP_CONN_CLOSE;
        apr_brigade_cleanup(bb);
        return st == HTTP_REQUEST_ENTITY_TOO_LARGE ? 413
               : st == HTTP_REQUEST_TIME_OUT ? 408 : 400;
    }
    if (!APR_BRIGADE_EMPTY(bb) && APR_BUCKET_IS_EOS(APR_BRIGADE_LAST(bb))) {
        apr_table_setn(r->notes, "it_body_eos", "1");
    }
    rv = apr_brigade_flatten(bb, buf, &want);
    apr_brigade_cleanup(bb);
    if (rv != APR_SUCCESS) {
        r->connection->keepalive = AP_CONN_CLOSE;
        return 400;
    }
    *len = want;
    return 0;
}

static void it_http_log(it_req_t *req, int level, const char *msg)
{
    request_rec *r = req->glue;
    ap_log_rerror(APLOG_MARK, level, 0, r, ITLOGNO(1003) "%s", msg);
}

/* Parses a=b&c=d into a table; the first occurrence of a name wins for
 * apr_table_get. Returns 0 or 400 for undecodable input. */
static int it_http_parse_query(apr_pool_t *pool, const char *args,
                               apr_table_t *out)
{
    char *copy, *pair, *state = NULL;

    if (!args || !*args) {
        return 0;
    }
    copy = apr_pstrdup(pool, args);
    for (pair = apr_strtok(copy, "&", &state); pair;
         pair = apr_strtok(NULL, "&", &state)) {
        char *eq = strchr(pair, '=');
        char *val = "";
        if (eq) {
            *eq = '\0';
            val = eq + 1;
        }
        if (ap_unescape_urlencoded(pair) != OK
            || ap_unescape_urlencoded(val) != OK
            || !it_utf8_valid(pair, strlen(pair))
            || !it_utf8_valid(val, strlen(val))) {
            return 400;
        }
        if (*pair) {
            apr_table_add(out, pair, val);
        }
    }
    return 0;
}

it_req_t *it_http_req(request_rec *r, const it_config_t *cfg, int *status)
{
    it_req_t *req = apr_pcalloc(r->pool, sizeof(*req));
    const char *cl, *rs;

    req->pool = r->pool;
    req->glue = r;
    req->cfg = cfg;
    req->method = r->method;
    if (r->header_only || !strcmp(r->method, "HEAD")) {
        req->method = "GET";
        req->is_head = 1;
    }
    req->path = r->uri;
    req->headers = r->headers_in;
    req->env = r->subprocess_env;
    req->content_type = apr_table_get(r->headers_in, "Content-Type");
    cl = apr_table_get(r->headers_in, "Content-Length");
    req->content_length = cl ? apr_atoi64(cl) : -1;
    req->user = r->user;
    req->auth_type = r->ap_auth_type;
    req->request_id = apr_table_get(r->subprocess_env, "UNIQUE_ID");
    if (!req->request_id) {
        /* without mod_unique_id: a UUID still ties logs to responses */
        apr_uuid_t u;
        char buf[APR_UUID_FORMATTED_LENGTH + 1];
        apr_uuid_get(&u);
        apr_uuid_format(buf, &u);
        req->request_id = apr_pstrdup(r->pool, buf);
    }
    rs = apr_table_get(r->subprocess_env, "REDIRECT_STATUS");
    if (rs && r->prev) {
        req->redirect_status = atoi(rs);
    }
    req->db_acquire = it_http_db_acquire;
    req->read_body = it_http_read_body;
    req->read_chunk = it_http_read_chunk;
    req->log = it_http_log;
    req->query = apr_table_make(r->pool, 8);
    *status = it_http_parse_query(r->pool, r->args, req->query);
    return *status ? NULL : req;
}

it_resp_t *it_http_resp(request_rec *r)
{
    it_resp_t *resp = apr_pcalloc(r->pool, sizeof(*resp));
    resp->pool = r->pool;
    resp->status = 500;
    resp->headers = apr_table_make(r->pool, 8);
    return resp;
}

static int it_http_copy_header(void *rec, const char *key, const char *val)
{
    apr_table_add((apr_table_t *)rec, key, val);
    return 1;
}

/* it_write_fn of streamed responses: apr_brigade_write buffers small
 * writes and passes the brigade down the output filters when its buffer
 * is full, so memory stays flat whatever the length of the body. */
static int it_http_stream_write(it_req_t *req, const char *buf, apr_size_t len,
                                int flush)
{
    request_rec *r = req->glue;
    apr_bucket_brigade *bb = NULL;

    if (r->connection->aborted) {
        return -1;
    }
    apr_pool_userdata_get((void **)&bb, "it_stream_bb", r->pool);
    if (!bb) {
        bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
        apr_pool_userdata_setn(bb, "it_stream_bb", NULL, r->pool);
    }
    if (len && ap_fwrite(r->output_filters, bb, buf, len) != APR_SUCCESS) {
        r->connection->aborted = 1;
        return -1;
    }
    if (flush && ap_fflush(r->output_filters, bb) != APR_SUCCESS) {
        r->connection->aborted = 1;
        return -1;
    }
    return 0;
}

/* Sends a streamed body (resp->stream). A stream that fails part way ends
 * with an error bucket of status 502, as mod_proxy does for a broken
 * backend: the chunk filter then omits the last chunk and the connection
 * is closed, so the client sees the body as incomplete. */
static int it_http_send_stream(request_rec *r, it_req_t *req, it_resp_t *resp)
{
    apr_bucket_brigade *bb;
    int rc;

    if (resp->content_type) {
        ap_set_content_type(r, resp->content_type);
    }
    if (r->header_only) {
        return OK;
    }
    rc = resp->stream(req, resp->stream_ctx, it_http_stream_write);
    apr_pool_userdata_get((void **)&bb, "it_stream_bb", r->pool);
    if (!bb) {
        bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    }
    if (rc != 0 && !r->connection->aborted) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ITLOGNO(1006)
                      "streamed response to %s failed part way; aborted",
                      req->path);
        APR_BRIGADE_INSERT_TAIL(bb, ap_bucket_error_create(HTTP_BAD_GATEWAY, NULL,
                                r->pool, r->connection->bucket_alloc));
        r->connection->keepalive = AP_CONN_CLOSE;
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(r->connection->bucket_alloc));
    if (ap_pass_brigade(r->output_filters, bb) != APR_SUCCESS) {
        r->connection->aborted = 1;
    }
    return OK;
}

int it_http_send(request_rec *r, it_req_t *req, it_resp_t *resp)
{
    apr_bucket_brigade *bb;
    char *body = NULL;
    size_t len = 0;

    apr_table_setn(r->err_headers_out, "X-Request-Id", req->request_id);
    if (resp->status >= 500) {
        /* A 500 is a bug: log what the client only sees summarised. */
        const char *detail = resp->json
            ? json_string_value(json_object_get(resp->json, "detail")) : NULL;
        ap_log_rerror(APLOG_MARK, resp->status == 503 ? APLOG_WARNING : APLOG_ERR,
                      0, r, ITLOGNO(1004) "%d %s: %s", resp->status,
                      req->path, detail ? detail : "");
    }
    if (resp->status == 503 && !apr_table_get(resp->headers, "Retry-After")) {
        int secs = resp->retry_after > 0 ? resp->retry_after
                 : (req->cfg && req->cfg->retry_after > 0 ? req->cfg->retry_after
                                                          : 1);
        apr_table_setn(resp->headers, "Retry-After",
                       apr_itoa(r->pool, secs));
    }
    /* an ErrorDocument's problem is about the original request */
    it_problem_finish(resp, req->request_id,
                      (req->redirect_status && r->prev) ? r->prev->uri : req->path);
    apr_table_do(it_http_copy_header, r->err_headers_out, resp->headers, NULL);

    r->status = resp->status;
    if (resp->status == 204 || resp->status == 304) {
        return OK;
    }
    if (resp->stream) {
        return it_http_send_stream(r, req, resp);
    }
    if (resp->file_path) {
        /* Served from disk the way httpd's default handler serves a
         * static file: a file bucket, sent with sendfile when the
         * operator set EnableSendfile On, else mmap'd unless EnableMMAP
         * Off (both are off for a reason on network file systems); Range
         * and If-Range through the byterange filter; never read into
         * memory. */
        core_dir_config *cd = ap_get_core_module_config(r->per_dir_config);
        apr_int32_t flags = APR_READ | APR_BINARY;
        apr_bucket *fb;
        apr_file_t *fd;
#if APR_HAS_SENDFILE
        if (cd->enable_sendfile == ENABLE_SENDFILE_ON) {
            flags |= APR_SENDFILE_ENABLED;
        }
#endif
        if (apr_file_open(&fd, resp->file_path, flags, 0, r->pool) != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ITLOGNO(1005)
                          "cannot open stored file %s", resp->file_path);
            it_problem(resp, 404, "content_missing",
                       "The stored content of this resource is missing");
            it_problem_finish(resp, req->request_id, req->path);
            resp->file_path = NULL;
            return it_http_send(r, req, resp);
        }
        if (resp->content_type) {
            ap_set_content_type(r, resp->content_type);
        }
        ap_set_content_length(r, resp->file_size);
        apr_table_setn(r->headers_out, "Accept-Ranges", "bytes");
        bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
        fb = apr_brigade_insert_file(bb, fd, 0, resp->file_size, r->pool);
#if APR_HAS_MMAP
        if (cd->enable_mmap == ENABLE_MMAP_OFF) {
            (void)apr_bucket_file_enable_mmap(fb, 0);
        }
#endif
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(r->connection->bucket_alloc));
        if (ap_pass_brigade(r->output_filters, bb) != APR_SUCCESS) {
            r->connection->aborted = 1;
        }
        return OK;
    }
    if (resp->json) {
        body = json_dumps(resp->json, JSON_COMPACT);
        if (!body) {
            r->status = 500;
            body = strdup("{\"title\":\"Internal Server Error\",\"status\":500,"
                          "\"code\":\"internal_error\"}");
            resp->content_type = IT_PROBLEM_CTYPE;
        }
        len = body ? strlen(body) : 0;
    }
    else if (resp->raw) {
        len = resp->raw_len;
    }
    if (resp->content_type) {
        ap_set_content_type(r, resp->content_type);
    }
    ap_set_content_length(r, (apr_off_t)len);
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    if (body) {
        /* hand jansson's malloc'd buffer to the bucket: no copy */
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_heap_create(body, len, free,
                                r->connection->bucket_alloc));
    }
    else if (resp->raw) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_pool_create(resp->raw, len,
                                r->pool, r->connection->bucket_alloc));
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(r->connection->bucket_alloc));
    if (ap_pass_brigade(r->output_filters, bb) != APR_SUCCESS) {
        /* the client went away; nothing more to do */
        r->connection->aborted = 1;
    }
    return OK;
}
