/*
 * it_res_auth.c -- POST /api/v1/auth/token: a Basic-authenticated user
 * gets a signed bearer token (HS256, libjwt) that mod_auth_openidc then
 * validates on every other API path. bcrypt runs once per login instead
 * of once per request (DESIGN.md section 6).
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <apr_uuid.h>
#include <jwt.h>

#include "it_auth.h"
#include "it_config.h"
#include "it_json.h"
#include "it_problem.h"
#include "it_router.h"

static const it_field_t it_token_fields[] = {
    { "expires_in", IT_JT_INT, 0, 60, 30 * 86400, NULL, NULL },
    { NULL, 0, 0, 0, 0, NULL, NULL }
};

/* Signs the claims; returns a pool copy of the compact JWS or NULL. */
static const char *it_token_sign(it_req_t *req, const char *secret, long iat,
                                 long exp)
{
    jwt_t *jwt = NULL;
    char *tok = NULL;
    const char *out = NULL;
    apr_uuid_t u;
    char jti[APR_UUID_FORMATTED_LENGTH + 1];

    apr_uuid_get(&u);
    apr_uuid_format(jti, &u);
    if (jwt_new(&jwt) != 0) {
        return NULL;
    }
    if (jwt_add_grant(jwt, "iss", IT_TOKEN_ISSUER) == 0
        && jwt_add_grant(jwt, "aud", IT_TOKEN_AUDIENCE) == 0
        && jwt_add_grant(jwt, "sub", req->caller->id) == 0
        && jwt_add_grant(jwt, "preferred_username", req->caller->username) == 0
        && jwt_add_grant(jwt, "role", it_role_name(req->caller->role)) == 0
        && jwt_add_grant(jwt, "jti", jti) == 0
        && jwt_add_grant_int(jwt, "iat", iat) == 0
        && jwt_add_grant_int(jwt, "nbf", iat) == 0
        && jwt_add_grant_int(jwt, "exp", exp) == 0
        && jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret,
                       (int)strlen(secret)) == 0) {
        tok = jwt_encode_str(jwt);
    }
    if (tok) {
        out = apr_pstrdup(req->pool, tok);
        free(tok);
    }
    jwt_free(jwt);
    return out;
}

static int it_auth_token(it_req_t *req, it_resp_t *resp)
{
    long ttl = req->cfg->token_ttl > 0 ? req->cfg->token_ttl : 3600;
    long now = (long)apr_time_sec(apr_time_now());
    const char *token;
    json_t *body;

    if (!req->cfg->token_secret) {
        return it_problem(resp, 501, "tokens_not_configured",
                          "Bearer tokens are not enabled on this server "
                          "(IssueTrackerTokenSecret is not set)");
    }
    /* Minting from a bearer token would let a token renew itself forever:
     * only a password (or another Basic-style login) may start a session. */
    if (!req->auth_type || strcasecmp(req->auth_type, "Basic")) {
        return it_problem(resp, 403, "basic_auth_required",
                          "A token is issued only for Basic credentials");
    }
    if (req->content_length > 0 || req->content_type) {
        int rc = it_json_body(req, resp, it_token_fields, &body);
        if (rc) {
            return rc;
        }
        if (json_object_get(body, "expires_in")) {
            long want = (long)json_integer_value(json_object_get(body, "expires_in"));
            if (want > ttl) {
                json_t *errors = it_problem_error_add(NULL, "expires_in", "range",
                    apr_psprintf(req->pool, "must be at most %ld (IssueTrackerTokenTTL)", ttl));
                return it_problem_validation(resp, errors);
            }
            ttl = want;
        }
    }
    token = it_token_sign(req, req->cfg->token_secret, now, now + ttl);
    if (!token) {
        return it_problem(resp, 500, "token_signing_failed",
                          "The token could not be signed");
    }
    /* RFC 6749 section 5.1: tokens must not be cached */
    apr_table_setn(resp->headers, "Cache-Control", "no-store");
    apr_table_setn(resp->headers, "Pragma", "no-cache");
    return it_resp_json(resp, 200, json_pack("{s:s, s:s, s:i, s:s, s:s}",
                        "access_token", token, "token_type", "Bearer",
                        "expires_in", (json_int_t)ttl,
                        "user_id", req->caller->id,
                        "role", it_role_name(req->caller->role)));
}

static const it_route_t it_auth_routes[] = {
    { "POST", IT_API_BASE "/auth/token", it_auth_token, "auth.token", 0 },
    { NULL, NULL, NULL, NULL, 0 }
};

const it_resource_t it_res_auth = { "auth", it_auth_routes };
