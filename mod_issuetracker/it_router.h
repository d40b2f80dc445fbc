/*
 * it_router.h -- the route table: method + path pattern -> handler.
 *
 * Routes are data. Each resource file exports an it_resource_t listing its
 * rows; it_resources[] (it_resources.c) lists the resources. Patterns are
 * absolute paths whose segments are literals or placeholders:
 *   {id}   a UUID (anything else is 404: a malformed id names no resource)
 *   {ref}  a UUID or an issue key such as PROJ-42
 */
#ifndef IT_ROUTER_H
#define IT_ROUTER_H

#include "it_types.h"

typedef int (*it_handler_fn)(it_req_t *req, it_resp_t *resp);

/* Route flags */
#define IT_ROUTE_PUBLIC    0x01u  /* no caller required (health, docs) */
#define IT_ROUTE_INTERNAL  0x02u  /* not part of the public API/OpenAPI */
#define IT_ROUTE_ANYMETHOD 0x04u  /* matches every method (ErrorDocument) */
#define IT_ROUTE_NO_DB     0x08u  /* never touches the database */

struct it_route_t {
    const char *method;          /* "GET", "POST", ... */
    const char *pattern;         /* "/api/v1/issues/{id}" */
    it_handler_fn handler;
    const char *action;          /* permission table action; NULL = none */
    unsigned flags;
};

typedef struct {
    const char *name;
    const it_route_t *routes;    /* terminated by a row with method NULL */
} it_resource_t;

typedef struct {
    const it_route_t *route;     /* NULL unless status == 0 */
    int status;                  /* 0 found, 404 unknown path, 405 method */
    const char *allow;           /* methods for the path ("GET, HEAD, ...") */
    const char *params[IT_MAX_PATH_PARAMS];
    int nparams;
} it_match_t;

/* Finds the route for method + path. Trailing slash is optional. */
void it_router_find(const it_resource_t *const *resources, const char *method,
                    const char *path, apr_pool_t *pool, it_match_t *m);

/* 1 if s is a canonical textual UUID (8-4-4-4-12 hex digits). */
int it_is_uuid(const char *s);

/* 1 if s is an issue key: project key, '-', positive number. */
int it_is_issue_key(const char *s);

#endif
