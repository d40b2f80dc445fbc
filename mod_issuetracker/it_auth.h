/*
 * it_auth.h -- who is calling, and what may they do.
 *
 * Identity comes only from Apache: r->user (set by an authentication
 * module) and, for bearer tokens validated by mod_auth_openidc, the claims
 * it puts into the environment (OIDC_CLAIM_*). Never from a request header.
 * The caller is mapped to a row of `users`; the role of that row (not a
 * claim in the token) decides, through one permission table.
 */
#ifndef IT_AUTH_H
#define IT_AUTH_H

#include "it_types.h"

typedef enum {
    IT_ROLE_NONE = 0,
    IT_ROLE_REPORTER = 1,
    IT_ROLE_DEVELOPER = 2,
    IT_ROLE_MANAGER = 3,
    IT_ROLE_ADMIN = 4
} it_role_t;

struct it_caller_t {
    const char *id;
    const char *username;
    it_role_t role;
};

/* Issuer and audience of the tokens minted by POST /auth/token. */
#define IT_TOKEN_ISSUER   "mod_issuetracker"
#define IT_TOKEN_AUDIENCE "issuetracker"

/* One row of the permission table: the least role that may perform
 * `action` on any object, and the least role that may perform it on an
 * object the caller owns (IT_ROLE_NONE = ownership grants nothing). */
typedef struct {
    const char *action;
    it_role_t any;
    it_role_t own;
    const char *note;            /* what "own" means, for the docs */
} it_permission_t;

extern const it_permission_t it_permissions[];

const char *it_role_name(it_role_t role);
it_role_t it_role_parse(const char *name);     /* IT_ROLE_NONE if unknown */

/* The row for an action, NULL if there is none (a bug: tests check that
 * every route's action has a row). */
const it_permission_t *it_permission_find(const char *action);

/* 1 if caller may perform action; is_owner says whether the object is
 * the caller's own. */
int it_auth_allowed(const it_caller_t *caller, const char *action, int is_owner);

/* 1 if caller could perform action on some object (any or own): the check
 * the dispatcher makes before the handler knows the object. */
int it_auth_may_attempt(const it_caller_t *caller, const char *action);

/* Fills resp with 403 and returns 403 unless allowed; returns 0 if allowed. */
int it_auth_require(it_req_t *req, it_resp_t *resp, const char *action,
                    int is_owner);

/* Resolves req->caller from r->user / claims. Returns 0, or fills resp
 * with 401 / 403 / 503 and returns that status. */
int it_auth_resolve(it_req_t *req, it_resp_t *resp);

/* docs/permissions.md as generated from it_permissions (a unit test
 * checks the committed file equals this). */
const char *it_auth_permissions_markdown(apr_pool_t *pool);

#endif
