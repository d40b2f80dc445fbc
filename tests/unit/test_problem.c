/*
 * test_problem.c -- RFC 9457 problem documents: members, default codes,
 * validation errors, the request_id / instance the glue adds.
 */
#include <stdlib.h>

#include "it_test.h"
#include "it_problem.h"

/* ---- it_problem ---------------------------------------------------------- */

static void test_problem_fills_members(void **state)
{
    it_resp_t *resp = it_test_resp(IT_POOL(state));
    int rc;

    rc = it_problem(resp, 409, "invalid_transition",
                    "cannot move from %s to %s (%d allowed)", "closed",
                    "resolved", 1);
    assert_int_equal(rc, 409);
    it_assert_problem(resp, 409, "invalid_transition");
    it_assert_jstr(resp->json, "type",
                   "urn:issuetracker:problem:invalid_transition");
    it_assert_jstr(resp->json, "title", "Conflict");
    it_assert_jstr(resp->json, "detail",
                   "cannot move from closed to resolved (1 allowed)");
    assert_int_equal(json_object_size(resp->json), 5);
}

static void test_problem_defaults_code_and_detail(void **state)
{
    it_resp_t *resp = it_test_resp(IT_POOL(state));

    assert_int_equal(it_problem(resp, 404, NULL, NULL), 404);
    it_assert_problem(resp, 404, "not_found");
    it_assert_jstr(resp->json, "detail", "Not Found");
}

/* A problem replaces whatever body the handler had started. */
static void test_problem_replaces_body(void **state)
{
    it_resp_t *resp = it_test_resp(IT_POOL(state));

    it_resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
    resp->raw = "raw body";
    resp->raw_len = 8;
    it_problem(resp, 503, "database_unavailable", "down");
    it_assert_problem(resp, 503, "database_unavailable");
    assert_null(resp->raw);
    assert_int_equal(json_integer_value(json_object_get(resp->json, "status")),
                     503);
}

typedef struct {
    int status;
    const char *code;
    const char *title;
} it_status_case_t;

static const it_status_case_t status_cases[] = {
    { 400, "bad_request",            "Bad Request" },
    { 401, "unauthorized",           "Unauthorized" },
    { 403, "forbidden",              "Forbidden" },
    { 404, "not_found",              "Not Found" },
    { 405, "method_not_allowed",     "Method Not Allowed" },
    { 408, "request_timeout",        "Request Timeout" },
    { 409, "conflict",               "Conflict" },
    { 412, "precondition_failed",    "Precondition Failed" },
    { 413, "payload_too_large",      "Content Too Large" },
    { 415, "unsupported_media_type", "Unsupported Media Type" },
    { 422, "validation_failed",      "Unprocessable Content" },
    { 428, "precondition_required",  "Precondition Required" },
    { 429, "rate_limited",           "Too Many Requests" },
    { 500, "internal_error",         "Internal Server Error" },
    { 503, "service_unavailable",    "Service Unavailable" },
    { 418, "error",                  "Error" },          /* unknown 4xx */
    { 599, "internal_error",         "Error" },          /* unknown 5xx */
};

static void test_problem_default_code_per_status(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    size_t i;
    int bad = 0;

    for (i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]); i++) {
        const it_status_case_t *c = &status_cases[i];
        it_resp_t *resp = it_test_resp(pool);
        const char *type = apr_pstrcat(pool, IT_PROBLEM_TYPE_PREFIX, c->code,
                                       NULL);

        IT_CHECK(bad, it_test_streq(it_problem_default_code(c->status), c->code),
                 "%d: default code %s, want %s", c->status,
                 it_problem_default_code(c->status), c->code);
        IT_CHECK(bad, it_test_streq(it_problem_title(c->status), c->title),
                 "%d: title %s, want %s", c->status,
                 it_problem_title(c->status), c->title);
        it_problem(resp, c->status, NULL, NULL);
        IT_CHECK(bad, resp->status == c->status, "%d: resp status %d",
                 c->status, resp->status);
        IT_CHECK(bad, it_test_streq(resp->content_type, IT_PROBLEM_CTYPE),
                 "%d: content type %s", c->status, IT_S(resp->content_type));
        IT_CHECK(bad, it_test_streq(it_test_jstr(resp->json, "code"), c->code),
                 "%d: code member %s", c->status,
                 IT_S(it_test_jstr(resp->json, "code")));
        IT_CHECK(bad, it_test_streq(it_test_jstr(resp->json, "type"), type),
                 "%d: type member %s", c->status,
                 IT_S(it_test_jstr(resp->json, "type")));
        IT_CHECK(bad, it_test_streq(it_test_jstr(resp->json, "detail"), c->title),
                 "%d: detail %s", c->status,
                 IT_S(it_test_jstr(resp->json, "detail")));
    }
    IT_CHECK_DONE(bad);
}

/* A detail may quote client input: invalid UTF-8 in it must neither crash
 * nor lose the document. Every problem keeps type, title, status, detail
 * and code (it_problem.h), so only the offending text may go.
 * FAILS until the fallback in it_problem() keeps `type` and a `detail`. */
static void test_problem_invalid_utf8_detail(void **state)
{
    it_resp_t *resp = it_test_resp(IT_POOL(state));
    const char *detail;

    assert_int_equal(it_problem(resp, 415, "unsupported_media_type",
                                "not %s", "text/plain; charset=\xff\xfe"), 415);
    assert_non_null(resp->json);
    assert_int_equal(resp->status, 415);
    it_assert_str(resp->content_type, IT_PROBLEM_CTYPE);
    assert_int_equal(json_integer_value(json_object_get(resp->json, "status")),
                     415);
    it_assert_jstr(resp->json, "code", "unsupported_media_type");
    it_assert_jstr(resp->json, "title", "Unsupported Media Type");
    /* the document must still serialise */
    {
        char *s = json_dumps(resp->json, JSON_COMPACT);
        assert_non_null(s);
        free(s);
    }
    it_assert_jstr(resp->json, "type",
                   "urn:issuetracker:problem:unsupported_media_type");
    detail = it_test_jstr(resp->json, "detail");
    assert_non_null(detail);
}

/* ---- it_problem_set / it_problem_error_add ------------------------------- */

static void test_problem_set_adds_member(void **state)
{
    it_resp_t *resp = it_test_resp(IT_POOL(state));

    it_problem(resp, 409, NULL, NULL);
    it_problem_set(resp, "current_version", json_integer(7));
    assert_int_equal(json_integer_value(json_object_get(resp->json,
                                                        "current_version")), 7);
    it_problem_set(resp, "current_version", json_integer(8));
    assert_int_equal(json_integer_value(json_object_get(resp->json,
                                                        "current_version")), 8);
}

/* Without a problem body the value is dropped (and freed: valgrind). */
static void test_problem_set_without_body_frees_value(void **state)
{
    it_resp_t *resp = it_test_resp(IT_POOL(state));

    it_problem_set(resp, "x", json_pack("{s:[i,i]}", "a", 1, 2));
    assert_null(resp->json);
    it_problem_set(resp, "x", NULL);
    assert_null(resp->json);
}

static void test_problem_error_add_shape(void **state)
{
    json_t *errors;
    json_t *e;

    (void)state;
    errors = it_problem_error_add(NULL, "priority", "enum", "must be one of: a");
    assert_non_null(errors);
    assert_true(json_is_array(errors));
    assert_ptr_equal(it_problem_error_add(errors, NULL, "required", NULL), errors);
    assert_int_equal(json_array_size(errors), 2);

    e = json_array_get(errors, 0);
    assert_int_equal(json_object_size(e), 3);
    it_assert_jstr(e, "field", "priority");
    it_assert_jstr(e, "code", "enum");
    it_assert_jstr(e, "message", "must be one of: a");

    e = json_array_get(errors, 1);
    it_assert_jstr(e, "field", "");       /* NULL field */
    it_assert_jstr(e, "message", "required"); /* = code */
    json_decref(errors);
}

/* ---- it_problem_validation ----------------------------------------------- */

static void it_assert_errors_shape(const json_t *errors, size_t n)
{
    size_t i;

    assert_true(json_is_array(errors));
    assert_int_equal(json_array_size(errors), n);
    for (i = 0; i < n; i++) {
        json_t *e = json_array_get(errors, i);
        assert_true(json_is_object(e));
        assert_int_equal(json_object_size(e), 3);
        assert_non_null(it_test_jstr(e, "field"));
        assert_non_null(it_test_jstr(e, "code"));
        assert_non_null(it_test_jstr(e, "message"));
    }
}

static void test_validation_one_error(void **state)
{
    it_resp_t *resp = it_test_resp(IT_POOL(state));
    json_t *errors = it_problem_error_add(NULL, "priority", "enum",
                                          "must be one of: low, high");

    assert_int_equal(it_problem_validation(resp, errors), 422);
    it_assert_problem(resp, 422, "validation_failed");
    it_assert_jstr(resp->json, "detail",
                   "priority: must be one of: low, high");
    it_assert_errors_shape(json_object_get(resp->json, "errors"), 1);
    it_assert_jstr(json_array_get(json_object_get(resp->json, "errors"), 0),
                   "code", "enum");
}

static void test_validation_several_errors(void **state)
{
    it_resp_t *resp = it_test_resp(IT_POOL(state));
    json_t *errors = NULL;
    json_t *got;

    errors = it_problem_error_add(errors, "title", "required", "is required");
    errors = it_problem_error_add(errors, "size", "range",
                                  "must be between 1 and 100");
    errors = it_problem_error_add(errors, "bogus", "unknown_field",
                                  "is not a known field");
    assert_int_equal(it_problem_validation(resp, errors), 422);
    it_assert_problem(resp, 422, "validation_failed");
    it_assert_jstr(resp->json, "detail", "The request has 3 invalid fields");
    got = json_object_get(resp->json, "errors");
    it_assert_errors_shape(got, 3);
    it_assert_jstr(it_test_error_for(got, "size"), "code", "range");
    it_assert_jstr(it_test_error_for(got, "bogus"), "code", "unknown_field");
}

/* A caller with nothing to list still gets an (empty) errors array. */
static void test_validation_no_errors_array(void **state)
{
    it_resp_t *resp = it_test_resp(IT_POOL(state));

    assert_int_equal(it_problem_validation(resp, NULL), 422);
    it_assert_problem(resp, 422, "validation_failed");
    it_assert_errors_shape(json_object_get(resp->json, "errors"), 0);
}

/* An error about the body as a whole has field "" (it_json_body for a
 * non-object body); the detail must not read ": the body must be ...".
 * FAILS until it_problem_validation() leaves out the empty field name. */
static void test_validation_whole_body_error_detail(void **state)
{
    it_resp_t *resp = it_test_resp(IT_POOL(state));
    const char *detail;

    it_problem_validation(resp, it_problem_error_add(NULL, "", "type",
                          "the body must be a JSON object"));
    it_assert_problem(resp, 422, "validation_failed");
    detail = it_test_jstr(resp->json, "detail");
    assert_true(it_test_contains(detail, "the body must be a JSON object"));
    assert_false(detail[0] == ':');
    assert_false(strncmp(detail, " ", 1) == 0);
}

/* ---- it_problem_finish --------------------------------------------------- */

static void test_finish_adds_request_id_and_instance(void **state)
{
    it_resp_t *resp = it_test_resp(IT_POOL(state));

    it_problem(resp, 404, NULL, NULL);
    it_problem_finish(resp, "req-1", "/api/v1/issues/x");
    it_assert_jstr(resp->json, "request_id", "req-1");
    it_assert_jstr(resp->json, "instance", "/api/v1/issues/x");
    /* a second call replaces request_id but keeps the first instance */
    it_problem_finish(resp, "req-2", "/other");
    it_assert_jstr(resp->json, "request_id", "req-2");
    it_assert_jstr(resp->json, "instance", "/api/v1/issues/x");
}

static void test_finish_keeps_handler_instance(void **state)
{
    it_resp_t *resp = it_test_resp(IT_POOL(state));

    it_problem(resp, 409, NULL, NULL);
    it_problem_set(resp, "instance", json_string("/api/v1/issues/PROJ-1"));
    it_problem_finish(resp, "req-1", "/api/v1/issues/abc");
    it_assert_jstr(resp->json, "instance", "/api/v1/issues/PROJ-1");
}

static void test_finish_leaves_other_bodies_alone(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    it_resp_t *resp = it_test_resp(pool);

    it_resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
    it_problem_finish(resp, "req-1", "/health");
    assert_int_equal(json_object_size(resp->json), 1);
    assert_null(json_object_get(resp->json, "request_id"));

    /* problem+json content type, but a non-object body */
    resp = it_test_resp(pool);
    it_resp_json(resp, 400, json_array());
    resp->content_type = IT_PROBLEM_CTYPE;
    it_problem_finish(resp, "req-1", "/x");
    assert_int_equal(json_array_size(resp->json), 0);

    /* no body at all (204) */
    resp = it_test_resp(pool);
    resp->status = 204;
    it_problem_finish(resp, "req-1", "/x");
    assert_null(resp->json);

    /* a problem body whose content type was changed is not a problem */
    resp = it_test_resp(pool);
    it_problem(resp, 404, NULL, NULL);
    resp->content_type = "application/json";
    it_problem_finish(resp, "req-1", "/x");
    assert_null(json_object_get(resp->json, "request_id"));
}

static void test_finish_nulls_and_bad_utf8(void **state)
{
    it_resp_t *resp = it_test_resp(IT_POOL(state));

    it_problem(resp, 404, NULL, NULL);
    it_problem_finish(resp, NULL, NULL);
    assert_null(json_object_get(resp->json, "request_id"));
    assert_null(json_object_get(resp->json, "instance"));
    /* a decoded path is client bytes: not valid UTF-8 -> no instance */
    it_problem_finish(resp, "req-1", "/api/v1/\xc3\x28");
    it_assert_jstr(resp->json, "request_id", "req-1");
    assert_null(json_object_get(resp->json, "instance"));
}

static const struct CMUnitTest tests[] = {
    IT_TEST(test_problem_fills_members),
    IT_TEST(test_problem_defaults_code_and_detail),
    IT_TEST(test_problem_replaces_body),
    IT_TEST(test_problem_default_code_per_status),
    IT_TEST(test_problem_invalid_utf8_detail),
    IT_TEST(test_problem_set_adds_member),
    IT_TEST(test_problem_set_without_body_frees_value),
    IT_TEST(test_problem_error_add_shape),
    IT_TEST(test_validation_one_error),
    IT_TEST(test_validation_several_errors),
    IT_TEST(test_validation_no_errors_array),
    IT_TEST(test_validation_whole_body_error_detail),
    IT_TEST(test_finish_adds_request_id_and_instance),
    IT_TEST(test_finish_keeps_handler_instance),
    IT_TEST(test_finish_leaves_other_bodies_alone),
    IT_TEST(test_finish_nulls_and_bad_utf8),
};

IT_TEST_MAIN("problem", tests)
