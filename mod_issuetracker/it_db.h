/*
 * it_db.h -- the only code that talks to apr_dbd and libpq.
 *
 * Rules (DESIGN.md section 3), each of which has crashed someone:
 *  - the handle comes from mod_dbd's pool (ap_dbd_acquire, glue only);
 *  - no DBDPrepareSQL statements: they vanish when PostgreSQL restarts.
 *    Statements with parameters are prepared by it_db itself, once per
 *    pooled connection (it_db_stmts_t, docs/operations.md), and forgotten
 *    whenever the server side may have lost them (a reset, another backend
 *    behind the handle); the rest go through PQexecParams. Parameters are
 *    text $1..$n, never formatted into SQL;
 *  - BEGIN / COMMIT / ROLLBACK are sent like any statement (so a failing
 *    COMMIT keeps its SQLSTATE), never through apr_dbd_transaction_start
 *    (it dereferences a broken connection);
 *  - SQLSTATE is read from the native PGresult and mapped by one table;
 *  - a lost connection is reset in place (PQreset) outside transactions,
 *    otherwise reported as 503 with Retry-After; never a 500, never a crash.
 */
#ifndef IT_DB_H
#define IT_DB_H

#include <apr_dbd.h>
#include <apr_hash.h>
#include <libpq-fe.h>

#include "it_types.h"

typedef struct {
    char sqlstate[6];            /* "" when the connection failed */
    const char *message;         /* server or libpq message */
    const char *constraint;      /* constraint name, if any */
    int status;                  /* HTTP status from the SQLSTATE table */
    const char *code;            /* problem code */
    int retryable;               /* 40001 / 40P01: retry the transaction */
    int conn_lost;
} it_db_error_t;

/* The statements prepared on one pooled connection: SQL text -> name. Lives
 * in the connection's pool (ap_dbd_t->pool), so it goes with the
 * connection; used by one request at a time, like the connection. */
typedef struct it_db_stmts_t {
    apr_pool_t *pool;
    apr_hash_t *names;
    int backend_pid;             /* the server process they live in */
} it_db_stmts_t;

#define IT_DB_STMTS_MAX 256      /* past that: unnamed statements */

struct it_db_t {
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    PGconn *conn;
    apr_pool_t *pool;            /* the request pool */
    int in_tx;
    const char *session_sql;     /* re-applied after a reset */
    it_db_stmts_t *stmts;        /* NULL: every statement unnamed */
    it_db_error_t err;           /* the last error */
};

typedef struct {
    PGresult *res;               /* cleared by the pool */
    int nrows;
    int ncols;
    long affected;               /* rows affected (UPDATE/DELETE/INSERT) */
} it_dbres_t;

typedef struct {
    const char *prefix;          /* SQLSTATE or its class (2 chars) */
    int status;
    const char *code;
    int retryable;
} it_sqlstate_row_t;

extern const it_sqlstate_row_t it_sqlstate_table[];

/* Wraps an apr_dbd pgsql handle; NULL if it is not a pgsql handle. */
it_db_t *it_db_wrap(apr_pool_t *pool, const apr_dbd_driver_t *driver,
                    apr_dbd_t *handle, const char *session_sql);

/* Runs sql with n text parameters (NULL = SQL NULL). Returns 0, or -1 with
 * db->err filled. *res may be NULL when the caller needs no rows. */
int it_db_exec(it_db_t *db, it_dbres_t **res, const char *sql, int n,
               const char *const *params);

/* Value of row/col, NULL for SQL NULL (never "" for NULL). */
const char *it_dbres_get(const it_dbres_t *res, int row, int col);
int it_dbres_col(const it_dbres_t *res, const char *name);

int it_db_begin(it_db_t *db);
int it_db_commit(it_db_t *db);
int it_db_rollback(it_db_t *db);

/* Runs fn inside BEGIN ... COMMIT, retrying (up to `tries` times) when it
 * fails with a serialization failure or deadlock. fn returns 0 to commit,
 * anything else to roll back (that value is returned). -1 means db->err. */
typedef int (*it_db_tx_fn)(it_db_t *db, void *ctx);
int it_db_tx(it_db_t *db, it_db_tx_fn fn, void *ctx, int tries);

/* COPY ... FROM STDIN through the native connection (text format; the
 * caller escapes). Inside a transaction only: a lost connection is not
 * retried. it_db_copy_begin sends `sql` (no parameters), it_db_copy_put
 * sends data (libpq buffers it), it_db_copy_end finishes and reads the
 * result: *rows (may be NULL) gets the number of rows copied. Each returns
 * 0, or -1 with db->err filled; after a failed put, call it_db_copy_end
 * with `abort_msg` set to end the COPY (it then returns -1). */
int it_db_copy_begin(it_db_t *db, const char *sql);
int it_db_copy_put(it_db_t *db, const char *buf, apr_size_t len);
int it_db_copy_end(it_db_t *db, const char *abort_msg, long *rows);

/* Prepares the statements of db with parameters on its connection, with
 * the cache kept in conn_pool (the pooled connection's own pool). */
void it_db_use_prepared(it_db_t *db, apr_pool_t *conn_pool);

/* Whether sql is one it_db prepares (it has parameters, and no optional
 * filter "... IS NULL OR ...", whose good plan depends on which parameters
 * are NULL: those are planned for every execution). */
int it_db_preparable(const char *sql, int nparams);

/* Fills e from a SQLSTATE (NULL or "" = connection failure). */
void it_db_classify(it_db_error_t *e, const char *sqlstate);

/* Session settings for a pooled connection (statement_timeout etc.). */
const char *it_db_session_sql(apr_pool_t *pool, int statement_ms, int lock_ms,
                              int idle_tx_ms);

#endif
