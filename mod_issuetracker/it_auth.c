/*
 * it_auth.c -- caller resolution and the permission table.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "it_auth.h"
#include "it_config.h"
#include "it_db.h"
#include "it_dispatch.h"
#include "it_problem.h"
#include "it_router.h"

/* DESIGN.md section 6. Roles are cumulative: a row names the least role.
 * `own` applies when the object belongs to the caller (see note). */
const it_permission_t it_permissions[] = {
    { "auth.token",          IT_ROLE_REPORTER,  IT_ROLE_NONE,     NULL },
    { "users.me",            IT_ROLE_REPORTER,  IT_ROLE_NONE,     NULL },
    { "users.list",          IT_ROLE_REPORTER,  IT_ROLE_NONE,     NULL },
    { "users.read",          IT_ROLE_REPORTER,  IT_ROLE_NONE,     NULL },
    { "users.create",        IT_ROLE_ADMIN,     IT_ROLE_NONE,     NULL },
    { "users.update",        IT_ROLE_ADMIN,     IT_ROLE_REPORTER, "own account: full_name, email, password" },
    { "users.update_role",   IT_ROLE_ADMIN,     IT_ROLE_NONE,     "role, is_active, username" },
    { "users.delete",        IT_ROLE_ADMIN,     IT_ROLE_NONE,     "never yourself, never the last active admin" },
    { "users.restore",       IT_ROLE_ADMIN,     IT_ROLE_NONE,     NULL },
    { "projects.list",       IT_ROLE_REPORTER,  IT_ROLE_NONE,     NULL },
    { "projects.read",       IT_ROLE_REPORTER,  IT_ROLE_NONE,     NULL },
    { "projects.create",     IT_ROLE_MANAGER,   IT_ROLE_NONE,     "the creator becomes the owner" },
    { "projects.update",     IT_ROLE_ADMIN,     IT_ROLE_MANAGER,  "own = projects the caller owns" },
    { "projects.delete",     IT_ROLE_ADMIN,     IT_ROLE_MANAGER,  "own = projects the caller owns" },
    { "projects.restore",    IT_ROLE_ADMIN,     IT_ROLE_NONE,     NULL },
    { "projects.transfer",   IT_ROLE_ADMIN,     IT_ROLE_MANAGER,  "own = hand an owned project to another manager or admin; any = name any active user as owner" },
    { "issues.list",         IT_ROLE_REPORTER,  IT_ROLE_NONE,     NULL },
    { "issues.read",         IT_ROLE_REPORTER,  IT_ROLE_NONE,     NULL },
    { "issues.create",       IT_ROLE_REPORTER,  IT_ROLE_NONE,     NULL },
    { "issues.update",       IT_ROLE_DEVELOPER, IT_ROLE_REPORTER, "own = issues the caller created: title, description, priority, type" },
    { "issues.transition",   IT_ROLE_DEVELOPER, IT_ROLE_REPORTER, "own = issues the caller created" },
    { "issues.assign",       IT_ROLE_DEVELOPER, IT_ROLE_NONE,     NULL },
    { "issues.label",        IT_ROLE_DEVELOPER, IT_ROLE_NONE,     NULL },
    { "issues.delete",       IT_ROLE_MANAGER,   IT_ROLE_NONE,     NULL },
    { "issues.restore",      IT_ROLE_ADMIN,     IT_ROLE_NONE,     NULL },
    { "issues.bulk",         IT_ROLE_MANAGER,   IT_ROLE_NONE,     NULL },
    { "issues.import",       IT_ROLE_MANAGER,   IT_ROLE_NONE,     NULL },
    { "timeline.read",       IT_ROLE_REPORTER,  IT_ROLE_NONE,     NULL },
    { "comments.create",     IT_ROLE_REPORTER,  IT_ROLE_NONE,     NULL },
    { "comments.read",       IT_ROLE_REPORTER,  IT_ROLE_NONE,     NULL },
    { "comments.update",     IT_ROLE_ADMIN,     IT_ROLE_REPORTER, "own = comments the caller wrote" },
    { "comments.delete",     IT_ROLE_MANAGER,   IT_ROLE_REPORTER, "own = comments the caller wrote" },
    { "labels.list",         IT_ROLE_REPORTER,  IT_ROLE_NONE,     NULL },
    { "labels.read",         IT_ROLE_REPORTER,  IT_ROLE_NONE,     NULL },
    { "labels.create",       IT_ROLE_MANAGER,   IT_ROLE_NONE,     NULL },
    { "labels.update",       IT_ROLE_MANAGER,   IT_ROLE_NONE,     NULL },
    { "labels.delete",       IT_ROLE_MANAGER,   IT_ROLE_NONE,     NULL },
    { "attachments.create",  IT_ROLE_DEVELOPER, IT_ROLE_REPORTER, "own = issues the caller created" },
    { "attachments.read",    IT_ROLE_REPORTER,  IT_ROLE_NONE,     NULL },
    { "attachments.delete",  IT_ROLE_MANAGER,   IT_ROLE_REPORTER, "own = attachments the caller uploaded" },
    { "reports.read",        IT_ROLE_MANAGER,   IT_ROLE_NONE,     NULL },
    { "deleted.read",        IT_ROLE_ADMIN,     IT_ROLE_NONE,     "include_deleted=true on lists and reads" },
    { NULL,                  IT_ROLE_NONE,      IT_ROLE_NONE,     NULL }
};

static const char *const it_role_names[] = {
    "none", "reporter", "developer", "manager", "admin"
};

const char *it_role_name(it_role_t role)
{
    return (role >= IT_ROLE_NONE && role <= IT_ROLE_ADMIN)
           ? it_role_names[role] : "none";
}

it_role_t it_role_parse(const char *name)
{
    int i;
    for (i = IT_ROLE_REPORTER; name && i <= IT_ROLE_ADMIN; i++) {
        if (!strcmp(name, it_role_names[i])) {
            return (it_role_t)i;
        }
    }
    return IT_ROLE_NONE;
}

const it_permission_t *it_permission_find(const char *action)
{
    const it_permission_t *p;
    for (p = it_permissions; action && p->action; p++) {
        if (!strcmp(p->action, action)) {
            return p;
        }
    }
    return NULL;
}

int it_auth_allowed(const it_caller_t *caller, const char *action, int is_owner)
{
    const it_permission_t *p = it_permission_find(action);

    if (!p || !caller || caller->role == IT_ROLE_NONE) {
        return 0;
    }
    if (caller->role >= p->any) {
        return 1;
    }
    return is_owner && p->own != IT_ROLE_NONE && caller->role >= p->own;
}

int it_auth_may_attempt(const it_caller_t *caller, const char *action)
{
    return it_auth_allowed(caller, action, 1);
}

int it_auth_require(it_req_t *req, it_resp_t *resp, const char *action,
                    int is_owner)
{
    if (it_auth_allowed(req->caller, action, is_owner)) {
        return 0;
    }
    return it_problem(resp, 403, "forbidden",
                      "Your role (%s) does not allow %s%s",
                      req->caller ? it_role_name(req->caller->role) : "none",
                      action, is_owner ? "" : " on objects you do not own");
}

/* ---- caller resolution ----------------------------------------------- */

#define IT_CALLER_COLS "id, username, role, is_active, is_deleted"

static const char it_sql_caller_by_name[] =
    "SELECT " IT_CALLER_COLS " FROM users WHERE lower(username) = lower($1)";
static const char it_sql_caller_by_id[] =
    "SELECT " IT_CALLER_COLS " FROM users WHERE id = $1::uuid";
static const char it_sql_caller_by_subject[] =
    "SELECT " IT_CALLER_COLS " FROM users WHERE external_subject = $1";
/* First sight of an SSO user: the password hash '!' matches no password,
 * so such a user can never log in with Basic. A concurrent first request
 * loses the race on the unique index and reads the winner's row. */
static const char it_sql_caller_provision[] =
    "INSERT INTO users (username, email, full_name, password_hash, role,"
    "                   auth_source, external_subject)"
    " VALUES ($1, $2, $3, '!', $4, 'external', $5)"
    " ON CONFLICT DO NOTHING";

static const char *it_claim(it_req_t *req, const char *name)
{
    const char *v;
    if (!req->env) {
        return NULL;
    }
    v = apr_table_get(req->env, apr_pstrcat(req->pool, "OIDC_CLAIM_", name, NULL));
    return (v && *v) ? v : NULL;
}

/* A username for an auto-provisioned user: the preferred_username claim
 * reduced to the allowed alphabet, else "sso-" + a digest of the subject. */
static const char *it_provision_username(it_req_t *req, const char *subject)
{
    const char *want = it_claim(req, "preferred_username");
    char *u;
    size_t i, n = 0;

    if (want) {
        u = apr_palloc(req->pool, 33);
        for (i = 0; want[i] && n < 32; i++) {
            char c = (char)apr_tolower(want[i]);
            if (apr_isalnum(c) || ((c == '.' || c == '_' || c == '-') && n > 0)) {
                u[n++] = c;
            }
        }
        u[n] = '\0';
        if (n >= 3) {
            return u;
        }
    }
    {
        unsigned long h = 5381;
        for (i = 0; subject[i]; i++) {
            h = h * 33 + (unsigned char)subject[i];
        }
        return apr_psprintf(req->pool, "sso-%08lx", h & 0xffffffffUL);
    }
}

static int it_caller_lookup(it_db_t *db, const char *sql, const char *arg,
                            it_dbres_t **res)
{
    const char *params[1];
    params[0] = arg;
    return it_db_exec(db, res, sql, 1, params);
}

int it_auth_resolve(it_req_t *req, it_resp_t *resp)
{
    it_db_t *db;
    it_dbres_t *res = NULL;
    const char *iss;
    it_caller_t *c;
    int rc;

    if (!req->user || !*req->user) {
        /* OPTIONS and unauthenticated locations reach us with "" */
        apr_table_setn(resp->headers, "WWW-Authenticate",
                       "Bearer realm=\"issuetracker\"");
        return it_problem(resp, 401, "unauthorized",
                          "Authentication is required: a valid bearer token "
                          "or Basic credentials");
    }
    db = it_req_db(req);
    if (!db) {
        return it_problem_db(resp, NULL);
    }
    iss = it_claim(req, "iss");
    if (iss && !strcmp(iss, IT_TOKEN_ISSUER)) {
        /* our own tokens: sub is the user id */
        if (!it_is_uuid(req->user)) {
            return it_problem(resp, 403, "unknown_user",
                              "The token's subject is not a user of this tracker");
        }
        rc = it_caller_lookup(db, it_sql_caller_by_id, req->user, &res);
    }
    else if (iss) {
        /* an identity provider's token: the user is iss + sub */
        const char *subject = apr_pstrcat(req->pool, iss, "|", req->user, NULL);
        rc = it_caller_lookup(db, it_sql_caller_by_subject, subject, &res);
        if (rc == 0 && res->nrows == 0 && req->cfg && req->cfg->auto_provision == 1) {
            const char *role = it_claim(req, req->cfg->role_claim);
            const char *email = it_claim(req, "email");
            const char *params[5];
            if (it_role_parse(role) == IT_ROLE_NONE) {
                role = "reporter";
            }
            params[0] = it_provision_username(req, subject);
            params[1] = email ? email : apr_pstrcat(req->pool, params[0],
                                                    "@invalid.example", NULL);
            params[2] = it_claim(req, "name");
            params[3] = role;
            params[4] = subject;
            if (it_db_exec(db, NULL, it_sql_caller_provision, 5, params) != 0
                && db->err.status != 409 && db->err.status != 422) {
                return it_problem_db(resp, db);
            }
            rc = it_caller_lookup(db, it_sql_caller_by_subject, subject, &res);
        }
    }
    else {
        /* Basic (mod_authn_dbd) and other username-based schemes */
        rc = it_caller_lookup(db, it_sql_caller_by_name, req->user, &res);
    }
    if (rc != 0) {
        return it_problem_db(resp, db);
    }
    if (res->nrows == 0) {
        return it_problem(resp, 403, "unknown_user",
                          "The authenticated user is not a user of this tracker");
    }
    if (strcmp(it_dbres_get(res, 0, 3), "t") || strcmp(it_dbres_get(res, 0, 4), "f")) {
        return it_problem(resp, 403, "inactive_user",
                          "This account is deactivated or deleted");
    }
    c = apr_pcalloc(req->pool, sizeof(*c));
    c->id = it_dbres_get(res, 0, 0);
    c->username = it_dbres_get(res, 0, 1);
    c->role = it_role_parse(it_dbres_get(res, 0, 2));
    req->caller = c;
    return 0;
}

const char *it_auth_permissions_markdown(apr_pool_t *pool)
{
    const it_permission_t *p;
    const char *out =
        "# Permissions\n\n"
        "Generated from `it_permissions[]` in `mod_issuetracker/it_auth.c`; a unit\n"
        "test fails when this file and the table disagree (regenerate with\n"
        "`make permissions-doc`).\n\n"
        "Roles are cumulative: reporter < developer < manager < admin. A cell\n"
        "says whether the role may perform the action on any object (`yes`),\n"
        "only on its own objects (`own`), or not at all (`-`).\n\n"
        "| action | reporter | developer | manager | admin | own means |\n"
        "| --- | --- | --- | --- | --- | --- |\n";
    for (p = it_permissions; p->action; p++) {
        int r;
        out = apr_pstrcat(pool, out, "| `", p->action, "` ", NULL);
        for (r = IT_ROLE_REPORTER; r <= IT_ROLE_ADMIN; r++) {
            const char *cell = (r >= (int)p->any) ? "yes"
                             : (p->own != IT_ROLE_NONE && r >= (int)p->own) ? "own"
                             : "-";
            out = apr_pstrcat(pool, out, "| ", cell, " ", NULL);
        }
        out = apr_pstrcat(pool, out, "| ", p->note ? p->note : "", " |\n", NULL);
    }
    return out;
}
