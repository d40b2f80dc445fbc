/*
 * it_idempotency.c -- the Idempotency-Key store (idempotency_keys).
 */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <openssl/evp.h>

#include "it_idempotency.h"
#include "it_auth.h"
#include "it_db.h"
#include "it_problem.h"

/* A key row can vanish between our INSERT and SELECT (purged) or be taken
 * over by another request (expired); each round sees a newer state. */
#define IT_IDEM_ROUNDS 3

struct it_idem_t {
    it_req_t *req;
    const char *user_id;
    const char *key;
    const char *hash;            /* computed on first use */
};

/* $1 user, $2 key, $3 request hash, $4 method, $5 path. A duplicate
 * inserted by a transaction still in progress makes this wait for it. */
static const char it_sql_idem_claim[] =
    "INSERT INTO idempotency_keys (user_id, key, request_hash, method, path)"
    " VALUES ($1::uuid, $2, $3, $4, $5)"
    " ON CONFLICT (user_id, key) DO NOTHING";

static const char it_sql_idem_get[] =
    "SELECT request_hash, status, response_body, response_headers::text,"
    "       expires_at <= now()"
    "  FROM idempotency_keys WHERE user_id = $1::uuid AND key = $2";

/* An expired key is free again; the WHERE is re-checked after waiting for
 * a concurrent taker, so only one request takes it over. */
static const char it_sql_idem_take_over[] =
    "UPDATE idempotency_keys SET request_hash = $3, method = $4, path = $5,"
    "       status = NULL, response_body = NULL, response_headers = NULL,"
    "       resource_id = NULL, created_at = now(),"
    "       expires_at = now() + interval '24 hours'"
    " WHERE user_id = $1::uuid AND key = $2 AND expires_at <= now()";

static const char it_sql_idem_store[] =
    "UPDATE idempotency_keys SET status = $3::int, response_body = $4,"
    "       response_headers = $5::jsonb, resource_id = $6::uuid"
    " WHERE user_id = $1::uuid AND key = $2";

/* Response headers a replay repeats. */
static const char *const it_idem_headers[] = { "Location", "ETag", NULL };

int it_idem_key_valid(const char *key)
{
    size_t n = 0;

    if (!key) {
        return 0;
    }
    for (; key[n]; n++) {
        if ((unsigned char)key[n] < 0x21 || (unsigned char)key[n] > 0x7e) {
            return 0;
        }
    }
    return n >= 1 && n <= IT_IDEM_KEY_MAX;
}

int it_idem_parse(it_req_t *req, it_resp_t *resp, it_idem_t **out)
{
    const char *key = req->headers ? apr_table_get(req->headers, IT_IDEM_HEADER) : NULL;
    it_idem_t *idem;

    *out = NULL;
    if (!key) {
        return 0;
    }
    if (!it_idem_key_valid(key)) {
        const char *code = !*key ? "too_short"
                         : strlen(key) > IT_IDEM_KEY_MAX ? "too_long" : "format";
        return it_problem_validation(resp, it_problem_error_add(NULL,
                   IT_IDEM_HEADER, code,
                   "must be 1 to 255 visible ASCII characters (no spaces), "
                   "e.g. a UUID"));
    }
    if (!req->caller || !req->caller->id) {
        return 0;                            /* no user, nothing to scope by */
    }
    idem = apr_pcalloc(req->pool, sizeof(*idem));
    idem->req = req;
    idem->user_id = req->caller->id;
    idem->key = key;
    *out = idem;
    return 0;
}

static int it_idem_digest_part(EVP_MD_CTX *ctx, const char *data, size_t len)
{
    char prefix[32];
    int n = snprintf(prefix, sizeof(prefix), "%lu:", (unsigned long)len);

    return EVP_DigestUpdate(ctx, prefix, (size_t)n)
           && (len == 0 || EVP_DigestUpdate(ctx, data, len));
}

const char *it_idem_request_hash(apr_pool_t *pool, const char *method,
                                 const char *path, const char *body,
                                 apr_size_t body_len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t plen = path ? strlen(path) : 0;
    char *out;
    int ok;

    if (!ctx) {
        return NULL;
    }
    /* /issues and /issues/ are the same resource (DESIGN.md section 4) */
    if (plen > 1 && path[plen - 1] == '/') {
        plen--;
    }
    ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)
         && it_idem_digest_part(ctx, method ? method : "", method ? strlen(method) : 0)
         && it_idem_digest_part(ctx, path ? path : "", plen)
         && it_idem_digest_part(ctx, body ? body : "", body ? body_len : 0)
         && EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        return NULL;
    }
    out = apr_palloc(pool, mdlen * 2 + 1);
    for (i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0x0f];
    }
    out[2 * mdlen] = '\0';
    return out;
}

/* Fills resp with the stored response; returns its status. */
static int it_idem_replay(it_resp_t *resp, const it_dbres_t *res)
{
    const char *body = it_dbres_get(res, 0, 2);
    const char *headers = it_dbres_get(res, 0, 3);
    json_t *h = headers ? json_loads(headers, 0, NULL) : NULL;
    const char *name;
    json_t *v;

    apr_table_clear(resp->headers);
    json_object_foreach(h, name, v) {
        if (json_is_string(v)) {
            apr_table_set(resp->headers, name, json_string_value(v));
        }
    }
    json_decref(h);
    apr_table_setn(resp->headers, IT_IDEM_REPLAYED, "true");
    resp->json = NULL;
    resp->raw = body ? apr_pstrdup(resp->pool, body) : NULL;
    resp->raw_len = body ? strlen(body) : 0;
    resp->content_type = body ? "application/json" : NULL;
    resp->status = atoi(it_dbres_get(res, 0, 1));
    return resp->status;
}

int it_idem_begin(it_db_t *db, it_idem_t *idem, it_resp_t *resp)
{
    const char *params[5];
    it_dbres_t *res;
    int round;

    if (!idem) {
        return 0;
    }
    if (!idem->hash) {
        it_req_t *req = idem->req;
        idem->hash = it_idem_request_hash(req->pool, req->method, req->path,
                                          req->body, req->body_len);
        if (!idem->hash) {
            return it_problem(resp, 500, "hash_failed",
                              "The request could not be hashed");
        }
    }
    params[0] = idem->user_id;
    params[1] = idem->key;
    params[2] = idem->hash;
    params[3] = idem->req->method;
    params[4] = idem->req->path;
    for (round = 0; round < IT_IDEM_ROUNDS; round++) {
        if (it_db_exec(db, &res, it_sql_idem_claim, 5, params) != 0) {
            return -1;
        }
        if (res->affected == 1) {
            return 0;                                 /* first with this key */
        }
        if (it_db_exec(db, &res, it_sql_idem_get, 2, params) != 0) {
            return -1;
        }
        if (res->nrows == 0) {
            continue;                                 /* purged meanwhile */
        }
        if (!strcmp(it_dbres_get(res, 0, 4), "t")) {
            if (it_db_exec(db, &res, it_sql_idem_take_over, 5, params) != 0) {
                return -1;
            }
            if (res->affected == 1) {
                return 0;
            }
            continue;                                 /* taken over by another */
        }
        if (strcmp(it_dbres_get(res, 0, 0), idem->hash)) {
            return it_problem(resp, 422, "idempotency_key_reused",
                              "This Idempotency-Key was already used for a "
                              "different request (method, path or body); use a "
                              "new key for a new request");
        }
        if (!it_dbres_get(res, 0, 1)) {
            /* cannot happen: the response is stored in the transaction
             * that inserted the row, and we waited for it to commit */
            return it_problem(resp, 409, "idempotency_key_in_use",
                              "A request with this Idempotency-Key is still "
                              "being processed; retry later");
        }
        return it_idem_replay(resp, res);
    }
    return it_problem(resp, 409, "idempotency_key_in_use",
                      "This Idempotency-Key is being used concurrently; retry");
}

int it_idem_store(it_db_t *db, it_idem_t *idem, const it_resp_t *resp,
                  const char *resource_id)
{
    const char *params[6];
    const char *const *name;
    json_t *h;
    char *hdrs, *body = NULL;
    int rv;

    if (!idem) {
        return 0;
    }
    h = json_object();
    for (name = it_idem_headers; *name; name++) {
        const char *v = apr_table_get(resp->headers, *name);
        if (v) {
            json_object_set_new(h, *name, json_string(v));
        }
    }
    hdrs = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    if (resp->json) {
        body = json_dumps(resp->json, JSON_COMPACT);
    }
    params[0] = idem->user_id;
    params[1] = idem->key;
    params[2] = apr_itoa(resp->pool, resp->status);
    params[3] = body ? body
              : resp->raw ? apr_pstrmemdup(resp->pool, resp->raw, resp->raw_len)
              : NULL;
    params[4] = hdrs;
    params[5] = resource_id;
    rv = it_db_exec(db, NULL, it_sql_idem_store, 6, params);
    free(hdrs);
    free(body);
    return rv;
}
