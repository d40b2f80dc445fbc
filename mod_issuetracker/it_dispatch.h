/*
 * it_dispatch.h -- the request flow of DESIGN.md section 2, without httpd:
 * route (404 / 405 + Allow) -> caller -> permission -> handler.
 */
#ifndef IT_DISPATCH_H
#define IT_DISPATCH_H

#include "it_router.h"
#include "it_db.h"

/* All resources of the API, NULL terminated (it_resources.c). */
extern const it_resource_t *const it_resources[];

/* Runs the request through the route table; fills resp; returns status. */
int it_dispatch(const it_resource_t *const *resources, it_req_t *req,
                it_resp_t *resp);

/* 503 database_unavailable (or the mapped status of the last db error). */
int it_problem_db(it_resp_t *resp, const it_db_t *db);

/* Runs fn in a transaction on the request's connection (it_db_tx, at most
 * `tries` times) and answers with what fn put into resp; when the database
 * failed, with its problem instead, without the Location / ETag fn may
 * have set for a success that did not happen. */
int it_req_tx(it_req_t *req, it_resp_t *resp, it_db_tx_fn fn, void *ctx,
              int tries);

#endif
