/*
 * it_idempotency.h -- Idempotency-Key for create endpoints (DESIGN.md
 * section 4, the IETF httpapi Idempotency-Key draft).
 *
 * A client that may retry a POST sends a unique key with it. The first
 * request with a key (per user) runs and its response is stored; a later
 * request with the same key and the same request (SHA-256 of method, path
 * and body) gets that stored response again, with `Idempotent-Replayed:
 * true`, and changes nothing. The same key with another request is 422
 * `idempotency_key_reused`. Keys expire after 24 hours; an expired key is
 * taken over by the next request that uses it.
 *
 * Race-free without a lock of our own: the key row is inserted, with
 * status NULL, in the create's transaction. A concurrent duplicate's INSERT
 * waits on the unique index until that transaction ends; when it committed
 * (and stored its response in the same transaction) the duplicate replays
 * it, when it rolled back the duplicate runs as the first. A create that
 * fails therefore leaves no key behind, and a retry runs again.
 *
 * Use, in a create handler:
 *
 *     it_idem_t *idem;
 *     if ((rc = it_idem_parse(req, resp, &idem)) != 0) return rc;  // 422
 *     ... validate the body ...
 *     // inside the it_db_tx function:
 *     if ((rc = it_idem_begin(db, idem, resp)) != 0) return rc;   // replayed
 *     ... write, fill resp (status, Location, ETag, body) ...
 *     return it_idem_store(db, idem, resp, new_id);
 *
 * Both calls do nothing when the request had no key (idem == NULL).
 */
#ifndef IT_IDEMPOTENCY_H
#define IT_IDEMPOTENCY_H

#include "it_types.h"

#define IT_IDEM_HEADER   "Idempotency-Key"
#define IT_IDEM_REPLAYED "Idempotent-Replayed"
#define IT_IDEM_KEY_MAX  255

typedef struct it_idem_t it_idem_t;

/* Reads the Idempotency-Key header of req. No header: returns 0 with *out
 * NULL. A value that is not 1-255 visible ASCII characters: 422 naming the
 * header (resp filled). Otherwise 0 with *out set (request pool). The
 * request hash covers method, path (without a trailing slash) and the raw
 * body, so it must be called after the body was read (it_json_body). */
int it_idem_parse(it_req_t *req, it_resp_t *resp, it_idem_t **out);

/* 1 if key is an acceptable Idempotency-Key value. */
int it_idem_key_valid(const char *key);

/* Hex SHA-256 of method, path and body (each length-prefixed, so no two
 * different requests hash the same input); NULL if libcrypto fails. */
const char *it_idem_request_hash(apr_pool_t *pool, const char *method,
                                 const char *path, const char *body,
                                 apr_size_t body_len);

/* In the create's transaction, before it writes anything. Returns
 *   0   the caller goes on and creates (the key is claimed);
 *   -1  database error (db->err); the transaction is rolled back;
 *   >0  resp is complete: the stored response of the first request
 *       (its status, e.g. 201) or a 422 idempotency_key_reused problem.
 *       The caller returns this value from its transaction function, which
 *       rolls back (nothing was written) and answers with resp.
 * Does nothing (returns 0) when idem is NULL. */
int it_idem_begin(it_db_t *db, it_idem_t *idem, it_resp_t *resp);

/* In the same transaction, after the write: stores resp's status, body
 * (raw or JSON), Location and ETag for replays. resource_id may be NULL.
 * Returns 0 or -1 (db->err). Does nothing when idem is NULL. */
int it_idem_store(it_db_t *db, it_idem_t *idem, const it_resp_t *resp,
                  const char *resource_id);

#endif
