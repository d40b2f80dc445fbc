/*
 * mod_it_bench_trivial.c -- benchmark ceiling B (docs/benchmarks.md): the
 * cheapest handler httpd can run.  It answers 200 application/json with a
 * body of exactly N bytes, a valid JSON string ("xxx...x"), so that wrk
 * against it measures httpd's request parsing, hook and handler dispatch
 * and response writing, and nothing of mod_issuetracker.
 *
 *     LoadModule it_bench_trivial_module .../mod_it_bench_trivial.so
 *     <Location /bench/trivial>
 *         SetHandler it_bench_trivial
 *     </Location>
 *
 *     GET /bench/trivial?size=N     N in [2, IT_BT_MAX], default 49
 *     POST /bench/trivial?size=N    the same, after reading the request body
 *                                   and throwing it away (the ceiling of
 *                                   the upload rows: httpd receiving the
 *                                   same bytes)
 *
 * Benchmark-only: never load it in a production server.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_buckets.h"
#include "apr_strings.h"

#include <string.h>

#define IT_BT_DEFAULT 49
#define IT_BT_MAX     (2 * 1024 * 1024)   /* the 1 MiB download row */

/* The body is two immortal buckets over static memory: N-1 bytes of
 * '"' + 'x'..., then the closing quote.  No per-request copy or allocation
 * beyond the brigade, so the handler costs as little as a handler can. */
static char it_bt_body[IT_BT_MAX];
static const char it_bt_quote[] = "\"";

/* size=N from the query string; -1 when present but not a number in range. */
static apr_int64_t it_bt_size(const char *args)
{
    const char *p = args;
    char *end;
    apr_int64_t n;

    while (p && *p) {
        if (strncmp(p, "size=", 5) == 0) {
            n = apr_strtoi64(p + 5, &end, 10);
            if (end == p + 5 || (*end && *end != '&') || n < 2 || n > IT_BT_MAX) {
                return -1;
            }
            return n;
        }
        p = strchr(p, '&');
        if (p) {
            p++;
        }
    }
    return IT_BT_DEFAULT;
}

static int it_bt_handler(request_rec *r)
{
    apr_bucket_brigade *bb;
    apr_bucket_alloc_t *ba;
    apr_int64_t n;

    if (!r->handler || strcmp(r->handler, "it_bench_trivial") != 0) {
        return DECLINED;
    }
    r->allowed |= (AP_METHOD_BIT << M_GET) | (AP_METHOD_BIT << M_POST);
    if (r->method_number != M_GET && r->method_number != M_POST) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    n = it_bt_size(r->args);
    if (n < 0) {
        return HTTP_BAD_REQUEST;
    }
    /* GET: no body, nothing read.  POST: every byte read through the
     * input filters (HTTP_IN: Content-Length, chunked) and dropped. */
    if (ap_discard_request_body(r) != OK) {
        return HTTP_BAD_REQUEST;
    }
    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, n);
    if (r->header_only) {
        return OK;
    }
    ba = r->connection->bucket_alloc;
    bb = apr_brigade_create(r->pool, ba);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_immortal_create(it_bt_body,
                                                           (apr_size_t)n - 1, ba));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_immortal_create(it_bt_quote, 1, ba));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(ba));
    return ap_pass_brigade(r->output_filters, bb) == APR_SUCCESS
           ? OK : AP_FILTER_ERROR;
}

static void it_bt_register_hooks(apr_pool_t *p)
{
    (void)p;
    memset(it_bt_body, 'x', sizeof(it_bt_body));
    it_bt_body[0] = '"';
    ap_hook_handler(it_bt_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(it_bench_trivial) = {
    STANDARD20_MODULE_STUFF,
    NULL,                   /* per-directory config creator */
    NULL,                   /* dir config merger */
    NULL,                   /* server config creator */
    NULL,                   /* server config merger */
    NULL,                   /* command table */
    it_bt_register_hooks,   /* set up other request processing hooks */
    AP_MODULE_FLAG_NONE
};
