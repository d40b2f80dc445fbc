/*
 * it_dispatch.h -- the request flow of DESIGN.md section 2, without httpd:
 * route (404 / 405 + Allow) -> caller -> permission -> handler.
 */
#ifndef IT_DISPATCH_H
#define IT_DISPATCH_H

#include "it_router.h"

/* All resources of the API, NULL terminated (it_resources.c). */
extern const it_resource_t *const it_resources[];

/* Runs the request through the route table; fills resp; returns status. */
int it_dispatch(const it_resource_t *const *resources, it_req_t *req,
                it_resp_t *resp);

/* 503 database_unavailable (or the mapped status of the last db error). */
int it_problem_db(it_resp_t *resp, const it_db_t *db);

#endif
