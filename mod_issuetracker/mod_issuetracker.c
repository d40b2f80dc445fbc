/*
 * mod_issuetracker.c -- httpd glue: module record, hooks, handler entry.
 *
 * Everything that knows about request_rec lives here and in it_http.c /
 * it_config.c. The handler builds an it_req_t, hands it to the core's
 * dispatcher and writes the it_resp_t back.
 *
 *   <Location /api/v1>
 *       SetHandler issuetracker
 *   </Location>
 */
#include <string.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <ap_mpm.h>
#include <apr_optional.h>
#include <apr_optional_hooks.h>
#include <apr_strings.h>
#include <apr_dbd.h>
#include <mod_dbd.h>
#include <libpq-fe.h>

#include "mod_issuetracker.h"
#include "it_config.h"
#include "it_dispatch.h"
#include "it_http.h"
#include "it_problem.h"
#include "it_db.h"

extern const command_rec it_config_cmds[];
module AP_MODULE_DECLARE_DATA issuetracker_module;

APLOG_USE_MODULE(issuetracker);

static const char *issuetracker_version(void)
{
    return IT_VERSION;
}

/* mod_dbd calls this for every new pooled connection: the session gets
 * its timeouts here once, not on every request. */
static apr_status_t it_dbd_post_connect(apr_pool_t *pool, dbd_cfg_t *dbd,
                                        ap_dbd_t *conn)
{
    it_server_config_t *sc;
    PGconn *pg;
    PGresult *res;
    int ok;

    if (strcmp(apr_dbd_name(conn->driver), "pgsql")) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, dbd->server, ITLOGNO(1010)
                     "DBDriver must be pgsql, not %s", apr_dbd_name(conn->driver));
        return APR_EGENERAL;
    }
    sc = ap_get_module_config(dbd->server->module_config, &issuetracker_module);
    if (!sc || !sc->session_sql) {
        return APR_SUCCESS;
    }
    pg = apr_dbd_native_handle(conn->driver, conn->handle);
    res = PQexec(pg, sc->session_sql);
    ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) {
        ap_log_perror(APLOG_MARK, APLOG_ERR, 0, pool, ITLOGNO(1011)
                      "setting up the database session failed: %s",
                      PQerrorMessage(pg));
    }
    PQclear(res);
    (void)pool;
    return ok ? APR_SUCCESS : APR_EGENERAL;
}

static int it_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    server_rec *sv;

    (void)plog;
    (void)ptemp;
    for (sv = s; sv; sv = sv->next) {
        it_server_config_t *sc = ap_get_module_config(sv->module_config,
                                                      &issuetracker_module);
        int st = sc->statement_timeout_ms > 0 ? sc->statement_timeout_ms
                                              : IT_DEFAULT_STATEMENT_TIMEOUT;
        int lk = sc->lock_timeout_ms > 0 ? sc->lock_timeout_ms
                                         : IT_DEFAULT_LOCK_TIMEOUT;
        int idle = sc->idle_tx_timeout_ms > 0 ? sc->idle_tx_timeout_ms
                                              : IT_DEFAULT_IDLE_TX_TIMEOUT;
        sc->session_sql = it_db_session_sql(pconf, st, lk, idle);
    }
    if (!APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, ITLOGNO(1012)
                     "mod_dbd is not loaded: every API call will answer 503");
    }
    return OK;
}

static int it_handler(request_rec *r)
{
    const it_config_t *cfg;
    it_server_config_t *sc;
    it_req_t *req;
    it_resp_t *resp;
    int status = 0;

    if (!r->handler || strcmp(r->handler, "issuetracker")) {
        return DECLINED;
    }
    cfg = it_config_resolve(r->pool,
              ap_get_module_config(r->per_dir_config, &issuetracker_module));
    sc = ap_get_module_config(r->server->module_config, &issuetracker_module);
    resp = it_http_resp(r);
    req = it_http_req(r, cfg, &status);
    if (!req) {
        /* Undecodable query string: answer with a minimal request view. */
        it_req_t bad;
        memset(&bad, 0, sizeof(bad));
        bad.pool = r->pool;
        bad.path = r->uri;
        bad.cfg = cfg;
        bad.request_id = apr_table_get(r->subprocess_env, "UNIQUE_ID");
        it_problem(resp, status, "invalid_query",
                   "The query string is not valid percent-encoded UTF-8");
        return it_http_send(r, &bad, resp);
    }
    if (req->redirect_status) {
        /* An ErrorDocument redirect still carries the original body. */
        ap_discard_request_body(r);
    }
    req->session_sql = sc ? sc->session_sql : NULL;
    it_dispatch(it_resources, req, resp);
    return it_http_send(r, req, resp);
}

static void it_register_hooks(apr_pool_t *pool)
{
    (void)pool;
    ap_hook_post_config(it_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(it_handler, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(dbd, post_connect, it_dbd_post_connect, NULL, NULL,
                      APR_HOOK_MIDDLE);
    APR_REGISTER_OPTIONAL_FN(issuetracker_version);
}

module AP_MODULE_DECLARE_DATA issuetracker_module = {
    STANDARD20_MODULE_STUFF,
    it_config_create_dir,
    it_config_merge_dir,
    it_config_create_server,
    it_config_merge_server,
    it_config_cmds,
    it_register_hooks,
    AP_MODULE_FLAG_NONE
};
