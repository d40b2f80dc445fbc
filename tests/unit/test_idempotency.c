/*
 * test_idempotency.c -- Idempotency-Key parsing and the request hash; the
 * database side (claim, replay, races) is covered by the integration suite.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "it_test.h"
#include "it_idempotency.h"
#include "it_auth.h"

static const struct { const char *key; int valid; } keys[] = {
    { "a", 1 },
    { "0b6a2c1e-4f0d-4a57-9a57-2b8f0d6c4e11", 1 },
    { "retry:2026-11-25/#42", 1 },
    { "", 0 },
    { "has space", 0 },
    { "tab\there", 0 },
    { "caf\xc3\xa9", 0 },
    { "nul\x01", 0 },
};

static void test_key_validity(void **state)
{
    size_t i;
    char long_key[257];
    (void)state;
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (it_idem_key_valid(keys[i].key) != keys[i].valid) {
            fail_msg("key %zu (%s) should be %s", i, keys[i].key,
                     keys[i].valid ? "valid" : "invalid");
        }
    }
    memset(long_key, 'k', 255);
    long_key[255] = '\0';
    assert_true(it_idem_key_valid(long_key));
    long_key[255] = 'k';
    long_key[256] = '\0';
    assert_false(it_idem_key_valid(long_key));
}

static void test_hash_separates_requests(void **state)
{
    apr_pool_t *p = IT_POOL(state);
    const char *a = it_idem_request_hash(p, "POST", "/api/v1/issues", "{\"t\":1}", 7);
    const char *b = it_idem_request_hash(p, "POST", "/api/v1/issues", "{\"t\":2}", 7);
    const char *c = it_idem_request_hash(p, "POST", "/api/v1/issue", "s{\"t\":1}", 8);
    const char *d = it_idem_request_hash(p, "POST", "/api/v1/issues", "{\"t\":1}", 7);

    assert_non_null(a);
    assert_int_equal(strlen(a), 64);
    assert_string_equal(a, d);                 /* deterministic */
    assert_string_not_equal(a, b);             /* body matters */
    assert_string_not_equal(a, c);             /* length-prefixed: no shifting */
}

static void test_no_header_means_no_key(void **state)
{
    apr_pool_t *p = IT_POOL(state);
    it_req_t *req = it_test_req(p, "POST", "/api/v1/issues");
    it_resp_t *resp = it_test_resp(p);
    it_idem_t *idem = (it_idem_t *)&idem;

    assert_int_equal(it_idem_parse(req, resp, &idem), 0);
    assert_null(idem);
}

static void test_bad_header_is_422_naming_it(void **state)
{
    apr_pool_t *p = IT_POOL(state);
    it_req_t *req = it_test_req(p, "POST", "/api/v1/issues");
    it_resp_t *resp = it_test_resp(p);
    it_idem_t *idem = NULL;
    json_t *errors;

    apr_table_setn(req->headers, "Idempotency-Key", "two words");
    assert_int_equal(it_idem_parse(req, resp, &idem), 422);
    errors = json_object_get(resp->json, "errors");
    assert_non_null(it_test_error_for(errors, "Idempotency-Key"));
}

static void test_good_header_parses(void **state)
{
    apr_pool_t *p = IT_POOL(state);
    it_req_t *req = it_test_req(p, "POST", "/api/v1/issues");
    it_resp_t *resp = it_test_resp(p);
    it_idem_t *idem = NULL;
    static const it_caller_t caller = { "6b1f7c2e-0000-4000-8000-000000000001", "u",
                                        IT_ROLE_REPORTER };

    /* keys are per user: without a caller there is nothing to scope by */
    apr_table_setn(req->headers, "Idempotency-Key", "k-1");
    assert_int_equal(it_idem_parse(req, resp, &idem), 0);
    assert_null(idem);
    req->caller = &caller;
    req->body = "{}";
    req->body_len = 2;
    apr_table_setn(req->headers, "Idempotency-Key", "k-1");
    assert_int_equal(it_idem_parse(req, resp, &idem), 0);
    assert_non_null(idem);
}

static const struct CMUnitTest tests[] = {
    IT_TEST(test_key_validity),
    IT_TEST(test_hash_separates_requests),
    IT_TEST(test_no_header_means_no_key),
    IT_TEST(test_bad_header_is_422_naming_it),
    IT_TEST(test_good_header_parses),
};

IT_TEST_MAIN("idempotency", tests)
