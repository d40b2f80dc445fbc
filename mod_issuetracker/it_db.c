/*
 * it_db.c -- database access through the native libpq handle of a
 * mod_dbd pooled apr_dbd connection.
 */
#include <string.h>
#include <stdlib.h>
#include <limits.h>
#include <apr_strings.h>
#include <apr_hash.h>

#include "it_db.h"

/* SQLSTATE -> HTTP. First match wins: exact codes before their class. */
const it_sqlstate_row_t it_sqlstate_table[] = {
    { "23505", 409, "conflict",              0 },  /* unique_violation */
    { "23503", 422, "invalid_reference",     0 },  /* foreign_key_violation */
    { "23514", 422, "constraint_violation",  0 },  /* check_violation */
    { "23502", 422, "constraint_violation",  0 },  /* not_null_violation */
    { "22P02", 422, "invalid_value",         0 },  /* invalid_text_representation */
    { "22001", 422, "value_too_long",        0 },  /* string_data_right_truncation */
    { "22003", 422, "out_of_range",          0 },  /* numeric_value_out_of_range */
    { "22007", 422, "invalid_value",         0 },  /* invalid_datetime_format */
    { "22008", 422, "out_of_range",          0 },  /* datetime_field_overflow */
    { "40001", 503, "serialization_failure", 1 },
    { "40P01", 503, "deadlock_detected",     1 },
    { "55P03", 503, "lock_timeout",          0 },  /* lock_not_available */
    { "57014", 503, "query_timeout",         0 },  /* query_canceled */
    { "57P",   503, "database_unavailable",  0 },  /* admin/crash shutdown */
    { "08",    503, "database_unavailable",  0 },  /* connection exception */
    { "53",    503, "database_overloaded",   0 },  /* insufficient resources */
    { "25P03", 503, "database_unavailable",  0 },  /* idle_in_transaction timeout */
    { NULL,    500, "database_error",        0 },
};

void it_db_classify(it_db_error_t *e, const char *sqlstate)
{
    const it_sqlstate_row_t *row;

    if (!sqlstate || !*sqlstate) {
        e->sqlstate[0] = '\0';
        e->status = 503;
        e->code = "database_unavailable";
        e->retryable = 0;
        e->conn_lost = 1;
        return;
    }
    apr_cpystrn(e->sqlstate, sqlstate, sizeof(e->sqlstate));
    for (row = it_sqlstate_table; row->prefix; row++) {
        if (!strncmp(sqlstate, row->prefix, strlen(row->prefix))) {
            break;
        }
    }
    e->status = row->status;
    e->code = row->code;
    e->retryable = row->retryable;
    e->conn_lost = !strncmp(sqlstate, "08", 2) || !strncmp(sqlstate, "57P", 3);
}

static apr_status_t it_pgresult_cleanup(void *data)
{
    PQclear((PGresult *)data);
    return APR_SUCCESS;
}

const char *it_db_session_sql(apr_pool_t *pool, int statement_ms, int lock_ms,
                              int idle_tx_ms)
{
    /* integers only: nothing here comes from a client */
    return apr_psprintf(pool,
        "SET statement_timeout = %d; SET lock_timeout = %d; "
        "SET idle_in_transaction_session_timeout = %d; SET jit = off; "
        "SET TIME ZONE 'UTC'",
        statement_ms, lock_ms, idle_tx_ms);
}

it_db_t *it_db_wrap(apr_pool_t *pool, const apr_dbd_driver_t *driver,
                    apr_dbd_t *handle, const char *session_sql)
{
    it_db_t *db;

    if (!driver || !handle || strcmp(apr_dbd_name(driver), "pgsql")) {
        return NULL;
    }
    db = apr_pcalloc(pool, sizeof(*db));
    db->driver = driver;
    db->handle = handle;
    db->conn = apr_dbd_native_handle(driver, handle);
    db->pool = pool;
    db->session_sql = session_sql;
    return db;
}

static void it_db_set_conn_error(it_db_t *db)
{
    const char *m = db->conn ? PQerrorMessage(db->conn) : "no connection";
    it_db_classify(&db->err, NULL);
    db->err.message = apr_pstrdup(db->pool, m && *m ? m : "connection lost");
    db->err.constraint = NULL;
}

/* Re-establishes a lost connection in place: the apr_dbd handle keeps its
 * PGconn pointer; the session settings are applied again, and the prepared
 * statements are forgotten (the new backend has another PID, which
 * it_db_prepared notices). */
static int it_db_reset(it_db_t *db)
{
    if (!db->conn || db->in_tx) {
        return 0;
    }
    PQreset(db->conn);
    if (db->stmts) {
        /* a new server process: nothing of ours is prepared there (the
         * PID check in it_db_prepared would notice too, unless the new
         * backend happens to get the old one's PID) */
        apr_hash_clear(db->stmts->names);
    }
    if (PQstatus(db->conn) != CONNECTION_OK) {
        return 0;
    }
    if (db->session_sql) {
        PGresult *r = PQexec(db->conn, db->session_sql);
        int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        return ok;
    }
    return 1;
}

/* ---- prepared statements -------------------------------------------------- */

/* Names are never reused in a process: a forgotten statement that still
 * exists on the server can never be mistaken for a new one. */
static unsigned long it_db_stmt_seq;

void it_db_use_prepared(it_db_t *db, apr_pool_t *conn_pool)
{
    it_db_stmts_t *s = NULL;

    if (!db || !conn_pool) {
        return;
    }
    apr_pool_userdata_get((void **)&s, "it_db_stmts", conn_pool);
    if (!s) {
        s = apr_pcalloc(conn_pool, sizeof(*s));
        s->pool = conn_pool;
        s->names = apr_hash_make(conn_pool);
        apr_pool_userdata_setn(s, "it_db_stmts", NULL, conn_pool);
    }
    db->stmts = s;
}

int it_db_preparable(const char *sql, int nparams)
{
    /* Without parameters: transaction control, the import's temporary
     * tables: nothing to gain. With an optional filter, a generic plan
     * (which PostgreSQL may pick after five executions) cannot use the
     * filter's index: plan those for their values, every time. */
    return nparams > 0 && sql && !strstr(sql, "IS NULL OR");
}

/* The name sql is prepared under on db's connection, preparing it first.
 * NULL: send it unnamed instead (the cache is full, or preparing failed:
 * the unnamed statement then fails the same way and reports why). */
static const char *it_db_prepared(it_db_t *db, const char *sql, int n)
{
    it_db_stmts_t *s = db->stmts;
    const char *name;
    PGresult *r;
    int pid = PQbackendPID(db->conn);

    if (s->backend_pid != pid) {
        /* another server process behind the handle (PQreset here or in
         * apr_dbd_check_conn): nothing is prepared there */
        apr_hash_clear(s->names);
        s->backend_pid = pid;
    }
    name = apr_hash_get(s->names, sql, APR_HASH_KEY_STRING);
    if (name || apr_hash_count(s->names) >= IT_DB_STMTS_MAX) {
        return name;
    }
    name = apr_psprintf(s->pool, "it_%lu",
                        __atomic_add_fetch(&it_db_stmt_seq, 1, __ATOMIC_RELAXED));
    r = PQprepare(db->conn, name, sql, n, NULL);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        return NULL;
    }
    PQclear(r);
    apr_hash_set(s->names, apr_pstrdup(s->pool, sql), APR_HASH_KEY_STRING, name);
    return name;
}

int it_db_exec(it_db_t *db, it_dbres_t **out, const char *sql, int n,
               const char *const *params)
{
    PGresult *r;
    ExecStatusType st;
    const char *name;
    int attempt;

    if (out) {
        *out = NULL;
    }
    for (attempt = 0; attempt < 2; attempt++) {
        if (PQstatus(db->conn) != CONNECTION_OK && !it_db_reset(db)) {
            it_db_set_conn_error(db);
            return -1;
        }
        name = db->stmts && it_db_preparable(sql, n) ? it_db_prepared(db, sql, n) : NULL;
        r = name ? PQexecPrepared(db->conn, name, n, params, NULL, NULL, 0)
                 : PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL, 0);
        st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            break;
        }
        if (r && PQresultErrorField(r, PG_DIAG_SQLSTATE)
            && PQstatus(db->conn) == CONNECTION_OK) {
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            /* The statement is gone (26000: someone ran DEALLOCATE or
             * DISCARD ALL) or its result type changed under a migration
             * (0A000 "cached plan must not change result type"): forget
             * what this connection has prepared, and outside a transaction
             * (where the failure changed nothing) send it again. */
            if (name && (!strcmp(state, "26000") || !strcmp(state, "0A000"))) {
                apr_hash_clear(db->stmts->names);
                if (!db->in_tx && attempt == 0) {
                    PQclear(r);
                    continue;
                }
            }
            const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
            const char *cons = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
            it_db_classify(&db->err, state);
            db->err.message = apr_pstrdup(db->pool, msg ? msg : "");
            db->err.constraint = cons ? apr_pstrdup(db->pool, cons) : NULL;
            PQclear(r);
            return -1;
        }
        PQclear(r);
        /* The connection died under us (backend killed, server restarted).
         * Outside a transaction the statement never took effect, so it is
         * safe to reconnect and send it once more. */
        if (db->in_tx || attempt == 1 || !it_db_reset(db)) {
            it_db_set_conn_error(db);
            return -1;
        }
    }
    if (out) {
        it_dbres_t *res = apr_pcalloc(db->pool, sizeof(*res));
        const char *aff = PQcmdTuples(r);
        res->res = r;
        res->nrows = PQntuples(r);
        res->ncols = PQnfields(r);
        res->affected = aff && *aff ? atol(aff) : 0;
        apr_pool_cleanup_register(db->pool, r, it_pgresult_cleanup,
                                  apr_pool_cleanup_null);
        *out = res;
    }
    else {
        PQclear(r);
    }
    return 0;
}

const char *it_dbres_get(const it_dbres_t *res, int row, int col)
{
    if (!res || row < 0 || row >= res->nrows || col < 0 || col >= res->ncols
        || PQgetisnull(res->res, row, col)) {
        return NULL;
    }
    return PQgetvalue(res->res, row, col);
}

int it_dbres_col(const it_dbres_t *res, const char *name)
{
    return res ? PQfnumber(res->res, name) : -1;
}

/* ---- COPY FROM STDIN ------------------------------------------------------ */

/* Fills db->err from a failed result (or the connection). */
static void it_db_set_result_error(it_db_t *db, PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

    if (!state || PQstatus(db->conn) != CONNECTION_OK) {
        it_db_set_conn_error(db);
        return;
    }
    {
        const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        const char *cons = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
        it_db_classify(&db->err, state);
        db->err.message = apr_pstrdup(db->pool, msg ? msg : "");
        db->err.constraint = cons ? apr_pstrdup(db->pool, cons) : NULL;
    }
}

int it_db_copy_begin(it_db_t *db, const char *sql)
{
    PGresult *r;

    if (PQstatus(db->conn) != CONNECTION_OK) {
        it_db_set_conn_error(db);
        return -1;
    }
    r = PQexec(db->conn, sql);
    if (!r || PQresultStatus(r) != PGRES_COPY_IN) {
        it_db_set_result_error(db, r);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    return 0;
}

int it_db_copy_put(it_db_t *db, const char *buf, apr_size_t len)
{
    /* blocking connection: 1 = queued, -1 = failed (0 only when nonblocking) */
    if (len > (apr_size_t)INT_MAX || PQputCopyData(db->conn, buf, (int)len) != 1) {
        it_db_set_conn_error(db);
        return -1;
    }
    return 0;
}

int it_db_copy_end(it_db_t *db, const char *abort_msg, long *rows)
{
    PGresult *r, *last = NULL;
    int rv = 0;

    if (rows) {
        *rows = 0;
    }
    if (PQputCopyEnd(db->conn, abort_msg) != 1) {
        it_db_set_conn_error(db);
        return -1;
    }
    /* read every result, so the connection is ready for the next query */
    while ((r = PQgetResult(db->conn)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rv == 0) {
            it_db_set_result_error(db, r);
            rv = -1;
        }
        else if (rv == 0 && rows) {
            const char *n = PQcmdTuples(r);
            *rows = n && *n ? atol(n) : 0;
        }
        PQclear(last);
        last = r;
    }
    PQclear(last);
    return abort_msg ? -1 : rv;
}

/* Transaction control is sent like every statement, through it_db_exec on
 * the native connection, so that a failing COMMIT reports the SQLSTATE the
 * server gave (40001 / 40P01 from SERIALIZABLE, 23505 from a deferred
 * constraint, ...) through it_sqlstate_table: it_db_tx then retries it or
 * it_problem_db maps it like any statement error. apr_dbd_query would send
 * the same statement but clears the PGresult, leaving only a message.
 *
 * apr_dbd's own transaction bookkeeping is the apr_dbd_transaction_t that
 * apr_dbd_transaction_start attaches to the handle; we never call it (it
 * dereferences a broken connection, DESIGN.md section 3), so the handle has
 * none and apr_dbd_query on it is a bare PQexec + PQclear (apr-util 1.6,
 * dbd/apr_dbd_pgsql.c): nothing in apr_dbd or mod_dbd tracks BEGIN /
 * COMMIT, and bypassing it loses nothing.
 *
 * it_db_exec resends a statement after an in-place reset only outside a
 * transaction (db->in_tx clear): BEGIN, which never took effect on a dead
 * connection, may be resent; COMMIT and ROLLBACK, whose outcome is unknown
 * then, are not. */
static int it_db_control(it_db_t *db, const char *sql)
{
    it_dbres_t *res = NULL;

    if (it_db_exec(db, &res, sql, 0, NULL) == 0) {
        /* COMMIT of a transaction in which a statement failed succeeds
         * and answers "ROLLBACK": nothing was written. A handler that
         * went on after an error would otherwise report a success. */
        if (res && res->res && !strcmp(sql, "COMMIT")
            && !strcmp(PQcmdStatus(res->res), "ROLLBACK")) {
            it_db_classify(&db->err, "25P02");
            db->err.message = "COMMIT rolled back a failed transaction";
            db->err.constraint = NULL;
            return -1;
        }
        return 0;
    }
    /* A failed COMMIT ends the transaction on the server (it is aborted and
     * the session is idle again). Should a failed control statement ever
     * leave one open, roll it back: the connection goes back to mod_dbd's
     * pool and must not carry it into the next request. db->err keeps the
     * original error. */
    if (!db->err.conn_lost && PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
        PGresult *r = PQexec(db->conn, "ROLLBACK");
        PQclear(r);
    }
    return -1;
}

int it_db_begin(it_db_t *db)
{
    if (it_db_control(db, "BEGIN") != 0) {
        return -1;
    }
    db->in_tx = 1;
    return 0;
}

int it_db_commit(it_db_t *db)
{
    int rv = it_db_control(db, "COMMIT");
    db->in_tx = 0;
    return rv;
}

int it_db_rollback(it_db_t *db)
{
    int rv = 0;
    if (PQstatus(db->conn) == CONNECTION_OK) {
        rv = it_db_control(db, "ROLLBACK");
    }
    db->in_tx = 0;
    return rv;
}

int it_db_tx(it_db_t *db, it_db_tx_fn fn, void *ctx, int tries)
{
    int rv = -1;

    while (tries-- > 0) {
        if (it_db_begin(db) != 0) {
            return -1;
        }
        rv = fn(db, ctx);
        if (rv == 0) {
            if (it_db_commit(db) == 0) {
                return 0;
            }
            rv = -1;
        }
        else {
            /* keep the error that made fn fail, not the rollback's */
            it_db_error_t saved = db->err;
            it_db_rollback(db);
            db->err = saved;
        }
        if (rv != -1 || !db->err.retryable) {
            return rv;
        }
    }
    return rv;
}
