/*
 * it_res_problem.c -- the ErrorDocument target. Apache's own errors under
 * /api/v1 (401 from authentication, 413 from LimitRequestBody, 429 from a
 * rate limiter...) are internally redirected here and rendered as problem
 * documents with the original status (DESIGN.md section 6).
 */
#include "it_router.h"
#include "it_problem.h"

static int it_problem_get(it_req_t *req, it_resp_t *resp)
{
    int status = req->redirect_status;

    if (status < 400 || status > 599) {
        /* Reached directly, not through ErrorDocument. */
        return it_problem(resp, 404, "not_found",
                          "There is no resource at this path");
    }
    switch (status) {
    case 401:
        return it_problem(resp, 401, "unauthorized",
                          "Authentication is required: a valid bearer token "
                          "or Basic credentials");
    case 403:
        return it_problem(resp, 403, "forbidden",
                          "Access to this resource is denied");
    case 413:
        return it_problem(resp, 413, "payload_too_large",
                          "The request body exceeds the configured limit");
    case 429:
        return it_problem(resp, 429, "rate_limited",
                          "Too many requests; slow down and retry later");
    default:
        return it_problem(resp, status, NULL, NULL);
    }
}

static const it_route_t it_problem_routes[] = {
    { "GET", IT_API_BASE "/_problem", it_problem_get, NULL,
      IT_ROUTE_PUBLIC | IT_ROUTE_INTERNAL | IT_ROUTE_ANYMETHOD | IT_ROUTE_NO_DB },
    { NULL, NULL, NULL, NULL, 0 }
};

const it_resource_t it_res_problem = { "problem", it_problem_routes };
