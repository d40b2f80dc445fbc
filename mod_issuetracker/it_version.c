/*
 * it_version.c -- ETag / If-Match / If-None-Match for versioned resources.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "it_version.h"
#include "it_config.h"
#include "it_problem.h"
#include "it_json.h"

/* Parses one entity tag ("12" or W/"12") at *s; advances *s. Returns the
 * version, -2 for "*", -1 for something that is not one of our tags, -3
 * for a syntax error. */
static long it_etag_next(const char **s)
{
    const char *p = *s;
    long v;
    char *end;

    while (*p == ' ' || *p == '\t' || *p == ',') {
        p++;
    }
    if (*p == '\0') {
        *s = p;
        return -4;                       /* end of list */
    }
    if (*p == '*') {
        *s = p + 1;
        return -2;
    }
    if (p[0] == 'W' && p[1] == '/') {
        p += 2;
    }
    if (*p != '"') {
        return -3;
    }
    p++;
    if (!apr_isdigit(*p)) {
        const char *q = strchr(p, '"');
        if (!q) {
            return -3;
        }
        *s = q + 1;
        return -1;                       /* a tag, but never one of ours */
    }
    v = strtol(p, &end, 10);
    if (*end != '"') {
        const char *q = strchr(end, '"');
        if (!q) {
            return -3;
        }
        *s = q + 1;
        return -1;
    }
    *s = end + 1;
    return v;
}

int it_version_precondition(it_req_t *req, it_resp_t *resp, json_t *body,
                            int required, it_precondition_t *pre)
{
    const char *im = req->headers ? apr_table_get(req->headers, "If-Match") : NULL;
    json_t *bv = body ? json_object_get(body, "version") : NULL;
    long header_v = -1, body_v = -1;

    pre->expected = -1;
    pre->from_header = 0;
    pre->any = 0;
    if (im) {
        const char *p = im;
        long v;
        int n = 0;
        /* A list may hold several tags; a write can only be based on one
         * version, so the first of ours wins, "*" means any. */
        while ((v = it_etag_next(&p)) != -4) {
            if (v == -3) {
                return it_problem(resp, 400, "invalid_if_match",
                                  "If-Match must be * or a list of entity tags "
                                  "such as \"3\"");
            }
            if (v == -2) {
                pre->any = 1;
            }
            else if (header_v < 0) {
                header_v = v;   /* -1 (foreign tag) stays "never matches" */
                if (v == -1) {
                    header_v = 0;
                }
            }
            n++;
        }
        if (n == 0) {
            return it_problem(resp, 400, "invalid_if_match",
                              "If-Match is empty");
        }
    }
    if (bv) {
        if (!json_is_integer(bv) || json_integer_value(bv) < 1) {
            json_t *errors = it_problem_error_add(NULL, "version", "type",
                                                  "must be a positive integer");
            return it_problem_validation(resp, errors);
        }
        body_v = (long)json_integer_value(bv);
        json_object_del(body, "version");
    }
    if (header_v >= 0 && body_v >= 0 && header_v != body_v) {
        return it_problem(resp, 400, "version_mismatch",
                          "If-Match (%ld) and the body's version (%ld) disagree",
                          header_v, body_v);
    }
    if (header_v >= 0) {
        pre->expected = header_v;
        pre->from_header = 1;
    }
    else if (body_v >= 0) {
        pre->expected = body_v;
    }
    else if (pre->any) {
        pre->from_header = 1;
    }
    else if (required) {
        return it_problem(resp, 428, "precondition_required",
                          "This write needs If-Match: \"<version>\" (see the "
                          "ETag of a GET) or a version field in the body");
    }
    return 0;
}

void it_version_etag(it_resp_t *resp, const char *version)
{
    if (version) {
        apr_table_setn(resp->headers, "ETag",
                       apr_pstrcat(resp->pool, "\"", version, "\"", NULL));
    }
}

int it_version_not_modified(it_req_t *req, const char *version)
{
    const char *inm = req->headers ? apr_table_get(req->headers, "If-None-Match") : NULL;
    const char *p = inm;
    long v, cur;

    if (!inm || !version) {
        return 0;
    }
    cur = atol(version);
    while ((v = it_etag_next(&p)) != -4 && v != -3) {
        /* weak comparison (RFC 9110 13.1.2) */
        if (v == -2 || v == cur) {
            return 1;
        }
    }
    return 0;
}

int it_version_conflict(it_resp_t *resp, const it_precondition_t *pre,
                        long current)
{
    if (pre->from_header) {
        it_problem(resp, 412, "precondition_failed",
                   "If-Match \"%ld\" is stale: the current version is %ld",
                   pre->expected, current);
    }
    else {
        it_problem(resp, 409, "version_conflict",
                   "version %ld is stale: the current version is %ld",
                   pre->expected, current);
    }
    it_problem_set(resp, "current_version", json_integer(current));
    return resp->status;
}

const char *it_version_param(apr_pool_t *pool, const it_precondition_t *pre)
{
    return pre->expected >= 0 ? apr_ltoa(pool, pre->expected) : NULL;
}

int it_version_respond(it_req_t *req, it_resp_t *resp, int status,
                       const char *doc, const char *version)
{
    it_version_etag(resp, version);
    if (status == 200 && !strcmp(req->method, "GET")
        && it_version_not_modified(req, version)) {
        resp->status = 304;
        return 304;
    }
    resp->json = NULL;
    doc = it_json_compact(resp->pool, doc);
    resp->raw = doc;
    resp->raw_len = strlen(doc);
    resp->content_type = "application/json";
    resp->status = status;
    return status;
}

int it_version_require(it_req_t *req, it_resp_t *resp,
                       const it_precondition_t *pre)
{
    it_precondition_t none;

    if (pre->expected >= 0 || pre->any
        || (req->cfg && req->cfg->require_version == 0)) {
        return 0;
    }
    return it_version_precondition(req, resp, NULL, 1, &none);
}

int it_version_stale(it_resp_t *resp, const it_precondition_t *pre,
                     const char *current)
{
    if (pre->expected >= 0 && pre->expected != atol(current)) {
        it_version_conflict(resp, pre, atol(current));
        it_version_etag(resp, current);
        return resp->status;
    }
    return 0;
}
