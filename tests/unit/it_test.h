/*
 * it_test.h -- shared helpers for the cmocka unit tests.
 *
 * Every test runs with a fresh APR pool (IT_TEST): setup creates it, the
 * test gets it through IT_POOL(state), teardown destroys it and with it every
 * jansson reference a response or request tied to it (it_json_pool_own), so
 * valgrind sees no leak unless a test itself forgets a json_decref.
 *
 * Table-driven tests report every failing row (IT_CHECK) and fail once at
 * the end (IT_CHECK_DONE), so one run shows all the rows that are wrong.
 */
#ifndef IT_TEST_H
#define IT_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <jansson.h>

#include "it_types.h"
#include "it_problem.h"

static inline int it_test_setup(void **state)
{
    apr_pool_t *pool = NULL;

    if (apr_pool_create(&pool, NULL) != APR_SUCCESS) {
        return -1;
    }
    *state = pool;
    return 0;
}

static inline int it_test_teardown(void **state)
{
    apr_pool_destroy((apr_pool_t *)*state);
    return 0;
}

#define IT_TEST(fn) \
    cmocka_unit_test_setup_teardown(fn, it_test_setup, it_test_teardown)
#define IT_POOL(state) ((apr_pool_t *)*(state))

/* main(): APR once for the whole binary, then the group. */
#define IT_TEST_MAIN(name, tests)                                           \
    int main(void)                                                          \
    {                                                                       \
        int rc_;                                                            \
        if (apr_initialize() != APR_SUCCESS) {                              \
            return 1;                                                       \
        }                                                                   \
        rc_ = cmocka_run_group_tests_name(name, tests, NULL, NULL);         \
        apr_terminate();                                                    \
        return rc_;                                                         \
    }

/* A request as the glue would build it, minus httpd: empty tables, no
 * body, no database, no body reader. */
static inline it_req_t *it_test_req(apr_pool_t *pool, const char *method,
                                    const char *path)
{
    it_req_t *req = apr_pcalloc(pool, sizeof(*req));

    req->pool = pool;
    req->method = method;
    req->path = path;
    req->query = apr_table_make(pool, 4);
    req->headers = apr_table_make(pool, 4);
    req->env = apr_table_make(pool, 4);
    req->content_length = -1;
    req->request_id = "test-request-id";
    return req;
}

/* An empty response as it_http_resp() makes one (status 500 until set). */
static inline it_resp_t *it_test_resp(apr_pool_t *pool)
{
    it_resp_t *resp = apr_pcalloc(pool, sizeof(*resp));

    resp->pool = pool;
    resp->status = 500;
    resp->headers = apr_table_make(pool, 4);
    return resp;
}

/* String member of an object, NULL when absent or not a string. */
static inline const char *it_test_jstr(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static inline int it_test_streq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && !strcmp(a, b));
}

static inline int it_test_contains(const char *haystack, const char *needle)
{
    return needle == NULL || (haystack && strstr(haystack, needle));
}

/* The item of an `errors` array whose field is `field`, or NULL. */
static inline json_t *it_test_error_for(const json_t *errors, const char *field)
{
    size_t i;

    for (i = 0; i < json_array_size(errors); i++) {
        json_t *e = json_array_get(errors, i);
        if (it_test_streq(it_test_jstr(e, "field"), field)) {
            return e;
        }
    }
    return NULL;
}

#define IT_S(s) ((s) ? (s) : "(null)")

/* assert_string_equal() crashes on NULL; this one fails cleanly. */
#define it_assert_str(actual, want)                                         \
    do {                                                                    \
        const char *a_ = (actual);                                          \
        if (!a_) {                                                          \
            fail_msg("%s is NULL, want \"%s\"", #actual, (want));         \
        }                                                                   \
        assert_string_equal(a_, (want));                                    \
    } while (0)
#define it_assert_jstr(obj, key, want) \
    it_assert_str(it_test_jstr((obj), (key)), (want))

/* Table rows: report the row and keep going; fail once at the end. */
#define IT_CHECK(nbad, cond, fmt, ...)                                      \
    do {                                                                    \
        if (!(cond)) {                                                      \
            print_error("%s:%d: " fmt "\n", __FILE__, __LINE__,             \
                        ##__VA_ARGS__);                                     \
            (nbad)++;                                                       \
        }                                                                   \
    } while (0)
#define IT_CHECK_DONE(nbad) assert_int_equal((nbad), 0)

/* resp holds a problem document with this status and code, and the five
 * members every problem has. */
#define it_assert_problem(resp, st, cd)                                      \
    do {                                                                     \
        const it_resp_t *r_ = (resp);                                        \
        assert_int_equal(r_->status, (st));                                  \
        assert_non_null(r_->json);                                           \
        assert_true(json_is_object(r_->json));                               \
        it_assert_str(r_->content_type, IT_PROBLEM_CTYPE);                   \
        assert_int_equal(json_integer_value(json_object_get(r_->json,        \
                                                            "status")), (st)); \
        it_assert_jstr(r_->json, "code", (cd));                              \
        it_assert_jstr(r_->json, "type", IT_PROBLEM_TYPE_PREFIX cd);         \
        it_assert_jstr(r_->json, "title", it_problem_title(st));             \
        assert_non_null(it_test_jstr(r_->json, "detail"));                   \
    } while (0)

#endif
