/*
 * it_problem.c -- RFC 9457 problem details.
 */
#include <stdarg.h>
#include <apr_strings.h>

#include "it_problem.h"

typedef struct {
    int status;
    const char *title;
    const char *code;
} it_status_row_t;

/* One row per status the API can answer with; titles are RFC 9110's. */
static const it_status_row_t it_status_rows[] = {
    { 400, "Bad Request",            "bad_request" },
    { 401, "Unauthorized",           "unauthorized" },
    { 403, "Forbidden",              "forbidden" },
    { 404, "Not Found",              "not_found" },
    { 405, "Method Not Allowed",     "method_not_allowed" },
    { 406, "Not Acceptable",         "not_acceptable" },
    { 408, "Request Timeout",        "request_timeout" },
    { 409, "Conflict",               "conflict" },
    { 410, "Gone",                   "gone" },
    { 411, "Length Required",        "length_required" },
    { 412, "Precondition Failed",    "precondition_failed" },
    { 413, "Content Too Large",      "payload_too_large" },
    { 414, "URI Too Long",           "uri_too_long" },
    { 415, "Unsupported Media Type", "unsupported_media_type" },
    { 416, "Range Not Satisfiable",  "range_not_satisfiable" },
    { 422, "Unprocessable Content",  "validation_failed" },
    { 428, "Precondition Required",  "precondition_required" },
    { 429, "Too Many Requests",      "rate_limited" },
    { 431, "Request Header Fields Too Large", "headers_too_large" },
    { 500, "Internal Server Error",  "internal_error" },
    { 501, "Not Implemented",        "not_implemented" },
    { 502, "Bad Gateway",            "bad_gateway" },
    { 503, "Service Unavailable",    "service_unavailable" },
    { 504, "Gateway Timeout",        "gateway_timeout" },
};

static const it_status_row_t *it_status_find(int status)
{
    size_t i;
    for (i = 0; i < sizeof(it_status_rows) / sizeof(it_status_rows[0]); i++) {
        if (it_status_rows[i].status == status) {
            return &it_status_rows[i];
        }
    }
    return NULL;
}

const char *it_problem_title(int status)
{
    const it_status_row_t *row = it_status_find(status);
    return row ? row->title : "Error";
}

const char *it_problem_default_code(int status)
{
    const it_status_row_t *row = it_status_find(status);
    return row ? row->code : (status >= 500 ? "internal_error" : "error");
}

int it_problem(it_resp_t *resp, int status, const char *code,
               const char *fmt, ...)
{
    json_t *doc;
    const char *detail;

    if (!code) {
        code = it_problem_default_code(status);
    }
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        detail = apr_pvsprintf(resp->pool, fmt, ap);
        va_end(ap);
    }
    else {
        detail = it_problem_title(status);
    }
    doc = json_pack("{s:s, s:s, s:i, s:s, s:s}",
                    "type", apr_pstrcat(resp->pool, IT_PROBLEM_TYPE_PREFIX,
                                        code, NULL),
                    "title", it_problem_title(status),
                    "status", status,
                    "detail", detail,
                    "code", code);
    if (!doc) {
        /* Only on allocation failure or invalid UTF-8 in detail: a detail
         * may quote client input, so retry without it rather than fail. */
        doc = json_pack("{s:s, s:s, s:i, s:s, s:s}",
                        "type", apr_pstrcat(resp->pool, IT_PROBLEM_TYPE_PREFIX,
                                            code, NULL),
                        "title", it_problem_title(status), "status", status,
                        "detail", it_problem_title(status), "code", code);
    }
    resp->raw = NULL;
    resp->content_type = IT_PROBLEM_CTYPE;
    it_resp_json(resp, status, doc);
    resp->content_type = IT_PROBLEM_CTYPE;
    return status;
}

void it_problem_set(it_resp_t *resp, const char *key, json_t *value)
{
    if (resp->json && json_is_object(resp->json) && value) {
        json_object_set_new(resp->json, key, value);
    }
    else if (value) {
        json_decref(value);
    }
}

json_t *it_problem_error_add(json_t *errors, const char *field,
                             const char *code, const char *message)
{
    json_t *item;

    if (!errors) {
        errors = json_array();
    }
    item = json_pack("{s:s, s:s, s:s}", "field", field ? field : "",
                     "code", code, "message", message ? message : code);
    if (item) {
        json_array_append_new(errors, item);
    }
    return errors;
}

int it_problem_validation(it_resp_t *resp, json_t *errors)
{
    size_t n = errors ? json_array_size(errors) : 0;
    json_t *first = n ? json_array_get(errors, 0) : NULL;
    const char *field = first ? json_string_value(json_object_get(first, "field")) : NULL;
    const char *msg = first ? json_string_value(json_object_get(first, "message")) : NULL;

    if (n == 1 && field && *field && msg) {
        it_problem(resp, 422, "validation_failed", "%s: %s", field, msg);
    }
    else if (n == 1 && msg) {
        it_problem(resp, 422, "validation_failed", "%s", msg);
    }
    else {
        it_problem(resp, 422, "validation_failed",
                   "The request has %lu invalid field%s", (unsigned long)n,
                   n == 1 ? "" : "s");
    }
    it_problem_set(resp, "errors", errors ? errors : json_array());
    return 422;
}

void it_problem_finish(it_resp_t *resp, const char *request_id,
                       const char *instance)
{
    if (!resp->json || !json_is_object(resp->json)
        || !resp->content_type || strcmp(resp->content_type, IT_PROBLEM_CTYPE)) {
        return;
    }
    if (request_id) {
        json_object_set_new(resp->json, "request_id", json_string(request_id));
    }
    if (instance && !json_object_get(resp->json, "instance")) {
        json_t *s = json_string(instance);   /* NULL if not valid UTF-8 */
        if (s) {
            json_object_set_new(resp->json, "instance", s);
        }
    }
}
