/*
 * it_version.h -- optimistic locking: `version`, ETag, If-Match,
 * If-None-Match (DESIGN.md section 4).
 *
 * Every mutable resource has an integer `version` starting at 1; its ETag
 * is the strong validator "<version>". A write names the version it was
 * based on with If-Match (stale -> 412) or a `version` body field (stale ->
 * 409); with neither it is 428 unless IssueTrackerRequireVersion is Off.
 * The write itself is one UPDATE ... WHERE id = $1 AND version = $2.
 */
#ifndef IT_VERSION_H
#define IT_VERSION_H

#include "it_types.h"

typedef struct {
    long expected;       /* the version the client based its write on; -1 none */
    int from_header;     /* 1: If-Match (412 on mismatch), 0: body (409) */
    int any;             /* If-Match: * (any current version) */
} it_precondition_t;

/* Parses If-Match (a list of "N", W/"N" or *) and the body's `version`
 * member (removed from body so field validation does not see it).
 * Returns 0, or a problem status: 400 malformed If-Match, 422 bad version
 * field, 428 none given while required. When both are given they must
 * agree (else 400). */
int it_version_precondition(it_req_t *req, it_resp_t *resp, json_t *body,
                            int required, it_precondition_t *pre);

/* Sets ETag: "<version>". */
void it_version_etag(it_resp_t *resp, const char *version);

/* 1 if If-None-Match matches version (answer 304). */
int it_version_not_modified(it_req_t *req, const char *version);

/* The 412 / 409 problem for a stale precondition, with current_version. */
int it_version_conflict(it_resp_t *resp, const it_precondition_t *pre,
                        long current);

/* The version to bind into "AND ($2::int IS NULL OR version = $2)":
 * NULL when no check applies. */
const char *it_version_param(apr_pool_t *pool, const it_precondition_t *pre);

/* After it_version_precondition(..., required=0, pre) and the 404/403
 * checks: 428 unless a precondition was given or IssueTrackerRequireVersion
 * is Off (so that 404 and 403 are answered before 428, RFC 9110 13.2.1). */
int it_version_require(it_req_t *req, it_resp_t *resp,
                       const it_precondition_t *pre);

/* 412 / 409 (with current_version and the current ETag) when the given
 * precondition names another version than `current`; else 0. */
int it_version_stale(it_resp_t *resp, const it_precondition_t *pre,
                     const char *current);

/* Answers with a resource document (JSON text, e.g. from json_build_object
 * in SQL) and its ETag; for GET/HEAD a matching If-None-Match gives 304. */
int it_version_respond(it_req_t *req, it_resp_t *resp, int status,
                       const char *doc, const char *version);

#endif
