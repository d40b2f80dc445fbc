/*
 * test_db.c -- the parts of it_db that need no server: SQLSTATE -> HTTP
 * classification, the session settings, handle wrapping, and transaction
 * control on a connection that cannot be established.
 */
#include <apr_dbd.h>

#include "it_test.h"
#include "it_db.h"

/* ---- it_db_classify ------------------------------------------------------ */

typedef struct {
    const char *sqlstate;
    int status;
    const char *code;
    int retryable;
    int conn_lost;
} it_classify_case_t;

static const it_classify_case_t classify_cases[] = {
    { "23505", 409, "conflict",              0, 0 },  /* unique_violation */
    { "23503", 422, "invalid_reference",     0, 0 },  /* foreign key */
    { "23514", 422, "constraint_violation",  0, 0 },  /* check */
    { "23502", 422, "constraint_violation",  0, 0 },  /* not null */
    { "22P02", 422, "invalid_value",         0, 0 },
    { "22001", 422, "value_too_long",        0, 0 },
    { "22003", 422, "out_of_range",          0, 0 },
    { "40001", 503, "serialization_failure", 1, 0 },
    { "40P01", 503, "deadlock_detected",     1, 0 },
    { "55P03", 503, "lock_timeout",          0, 0 },
    { "57014", 503, "query_timeout",         0, 0 },  /* statement_timeout */
    { "57P01", 503, "database_unavailable",  0, 1 },  /* admin_shutdown */
    { "57P02", 503, "database_unavailable",  0, 1 },  /* crash_shutdown */
    { "57P03", 503, "database_unavailable",  0, 1 },  /* cannot_connect_now */
    { "08006", 503, "database_unavailable",  0, 1 },  /* connection_failure */
    { "08001", 503, "database_unavailable",  0, 1 },
    { "08000", 503, "database_unavailable",  0, 1 },
    { "53300", 503, "database_overloaded",   0, 0 },  /* too_many_connections */
    { "53100", 503, "database_overloaded",   0, 0 },  /* disk_full */
    { "XX000", 500, "database_error",        0, 0 },  /* internal_error */
    { "42P01", 500, "database_error",        0, 0 },  /* undefined_table: ours */
    { "42601", 500, "database_error",        0, 0 },  /* syntax_error: ours */
    { "40002", 500, "database_error",        0, 0 },  /* not 40001 */
    { "2350",  500, "database_error",        0, 0 },  /* truncated code */
    { NULL,    503, "database_unavailable",  0, 1 },
    { "",      503, "database_unavailable",  0, 1 },
};

static void test_classify_table(void **state)
{
    size_t i;
    int bad = 0;

    (void)state;
    for (i = 0; i < sizeof(classify_cases) / sizeof(classify_cases[0]); i++) {
        const it_classify_case_t *c = &classify_cases[i];
        it_db_error_t e;

        /* garbage in e: classify must set every member it owns */
        memset(&e, 0x5a, sizeof(e));
        it_db_classify(&e, c->sqlstate);
        IT_CHECK(bad, e.status == c->status, "%s: status %d, want %d",
                 IT_S(c->sqlstate), e.status, c->status);
        IT_CHECK(bad, it_test_streq(e.code, c->code), "%s: code %s, want %s",
                 IT_S(c->sqlstate), IT_S(e.code), c->code);
        IT_CHECK(bad, e.retryable == c->retryable, "%s: retryable %d, want %d",
                 IT_S(c->sqlstate), e.retryable, c->retryable);
        IT_CHECK(bad, e.conn_lost == c->conn_lost, "%s: conn_lost %d, want %d",
                 IT_S(c->sqlstate), e.conn_lost, c->conn_lost);
        IT_CHECK(bad, !strcmp(e.sqlstate, c->sqlstate ? c->sqlstate : ""),
                 "%s: sqlstate kept as \"%.5s\"", IT_S(c->sqlstate),
                 e.sqlstate);
    }
    IT_CHECK_DONE(bad);
}

/* Every row of the real table is reached by a code it names: no earlier
 * (class) row shadows a later exact one, and the last row is the default. */
static void test_sqlstate_table_rows_reachable(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    const it_sqlstate_row_t *row;
    int bad = 0;

    for (row = it_sqlstate_table; row->prefix; row++) {
        /* a class row ("08") is tried as its first code ("08000") */
        const char *code = apr_psprintf(pool, "%s%.*s", row->prefix,
                                        (int)(5 - strlen(row->prefix)),
                                        "00000");
        it_db_error_t e;

        IT_CHECK(bad, strlen(row->prefix) >= 2 && strlen(row->prefix) <= 5,
                 "prefix \"%s\" is neither a class nor a code", row->prefix);
        IT_CHECK(bad, row->status == 409 || row->status == 422
                 || row->status == 503, "%s: status %d (a database fault is "
                 "never a 500 unless it is our bug)", row->prefix, row->status);
        IT_CHECK(bad, row->code && *row->code, "%s: no problem code",
                 row->prefix);
        it_db_classify(&e, code);
        IT_CHECK(bad, e.status == row->status && it_test_streq(e.code, row->code),
                 "%s (as %s): classified as %d %s, its row says %d %s",
                 row->prefix, code, e.status, IT_S(e.code), row->status,
                 IT_S(row->code));
    }
    IT_CHECK(bad, row->status == 500 && row->code != NULL,
             "default row: %d %s", row->status, IT_S(row->code));
    IT_CHECK_DONE(bad);
}

/* ---- it_db_session_sql --------------------------------------------------- */

static void test_session_sql_settings(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    const char *sql = it_db_session_sql(pool, 5000, 2000, 10000);
    static const char *const want[] = {
        "statement_timeout = 5000",
        "lock_timeout = 2000",
        "idle_in_transaction_session_timeout = 10000",
        "TIME ZONE 'UTC'",
        "jit = off",
    };
    size_t i;

    assert_non_null(sql);
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (!strstr(sql, want[i])) {
            fail_msg("\"%s\" lacks \"%s\"", sql, want[i]);
        }
    }
    /* "lock_timeout = 2000" also matches inside a longer name: the value
     * must belong to lock_timeout itself */
    assert_non_null(strstr(sql, "SET lock_timeout = 2000"));
}

static void test_session_sql_uses_given_numbers(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    const char *sql = it_db_session_sql(pool, 1, 22, 333);

    assert_non_null(strstr(sql, "statement_timeout = 1;"));
    assert_non_null(strstr(sql, "SET lock_timeout = 22;"));
    assert_non_null(strstr(sql, "idle_in_transaction_session_timeout = 333;"));
    assert_null(strstr(sql, "5000"));
}

/* ---- it_db_wrap ---------------------------------------------------------- */

static void test_wrap_null_driver_or_handle(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    const apr_dbd_driver_t *pgsql = NULL;

    assert_null(it_db_wrap(pool, NULL, NULL, NULL));
    assert_null(it_db_wrap(pool, NULL, (apr_dbd_t *)pool, "SET x = 1"));

    apr_dbd_init(pool);
    if (apr_dbd_get_driver(pool, "pgsql", &pgsql) != APR_SUCCESS || !pgsql) {
        print_message("apr_dbd pgsql driver not installed: partial test\n");
        return;
    }
    assert_null(it_db_wrap(pool, pgsql, NULL, NULL));
}

/* ---- result accessors without a result ----------------------------------- */

static void test_dbres_accessors_tolerate_null(void **state)
{
    (void)state;
    assert_null(it_dbres_get(NULL, 0, 0));
    assert_int_equal(it_dbres_col(NULL, "id"), -1);
}

/* ---- transaction control on a lost connection ----------------------------- */

static apr_status_t finish_conn(void *data)
{
    PQfinish(data);
    return APR_SUCCESS;
}

static int tx_fn_calls;

static int tx_fn_must_not_run(it_db_t *db, void *ctx)
{
    (void)db;
    (void)ctx;
    tx_fn_calls++;
    return 0;
}

static void assert_conn_lost(const it_db_t *db)
{
    assert_int_equal(db->err.status, 503);
    it_assert_str(db->err.code, "database_unavailable");
    assert_true(db->err.conn_lost);
    assert_int_equal(db->err.retryable, 0);
    it_assert_str(db->err.sqlstate, "");
    assert_int_equal(db->in_tx, 0);
}

/* BEGIN / COMMIT / ROLLBACK go the way statements go: a connection that
 * cannot be (re)established is a 503 with no SQLSTATE, never a 500, and no
 * transaction is left marked open. (A server-side failure of COMMIT keeps
 * its SQLSTATE through the same path as a statement's; that needs a server:
 * it_db_classify's table above is what maps it.) */
static void test_tx_control_on_a_lost_connection(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    /* a socket directory that does not exist: fails at once, no network */
    PGconn *conn = PQconnectdb("host=/nonexistent/it-test-socket port=1 "
                               "connect_timeout=1");
    it_db_t db;

    assert_non_null(conn);
    apr_pool_cleanup_register(pool, conn, finish_conn, apr_pool_cleanup_null);
    assert_int_not_equal(PQstatus(conn), CONNECTION_OK);
    memset(&db, 0, sizeof(db));
    db.conn = conn;
    db.pool = pool;

    assert_int_equal(it_db_begin(&db), -1);
    assert_conn_lost(&db);

    tx_fn_calls = 0;
    assert_int_equal(it_db_tx(&db, tx_fn_must_not_run, NULL, 3), -1);
    assert_int_equal(tx_fn_calls, 0);
    assert_conn_lost(&db);

    /* inside a transaction: reported, not resent, and the flag is cleared */
    db.in_tx = 1;
    assert_int_equal(it_db_commit(&db), -1);
    assert_conn_lost(&db);
    db.in_tx = 1;
    assert_int_equal(it_db_rollback(&db), 0);   /* nothing to roll back */
    assert_int_equal(db.in_tx, 0);
}

/* Which statements it_db prepares: those with parameters and no optional
 * filter; and a statement on a lost connection with the cache on fails
 * like any other (503, nothing prepared, nothing cached). */
static void test_prepared_statement_choice(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    PGconn *conn = PQconnectdb("host=/nonexistent/it-test-socket port=1 "
                               "connect_timeout=1");
    const char *param = "00000000-0000-4000-8000-000000000000";
    it_db_t db;

    assert_true(it_db_preparable("SELECT 1 FROM users WHERE id = $1::uuid", 1));
    assert_false(it_db_preparable("BEGIN", 0));
    assert_false(it_db_preparable("SELECT count(*) FROM issues i WHERE"
                                  " ($1::uuid IS NULL OR i.project_id = $1::uuid)", 1));
    assert_false(it_db_preparable(NULL, 1));

    assert_non_null(conn);
    apr_pool_cleanup_register(pool, conn, finish_conn, apr_pool_cleanup_null);
    memset(&db, 0, sizeof(db));
    db.conn = conn;
    db.pool = pool;
    it_db_use_prepared(&db, pool);
    assert_non_null(db.stmts);
    /* the same pool gives the same cache: it belongs to the connection */
    {
        it_db_t again;
        memset(&again, 0, sizeof(again));
        it_db_use_prepared(&again, pool);
        assert_ptr_equal(again.stmts, db.stmts);
    }
    assert_int_equal(it_db_exec(&db, NULL, "SELECT 1 FROM users WHERE id = $1::uuid",
                                1, &param), -1);
    assert_conn_lost(&db);
    assert_int_equal(apr_hash_count(db.stmts->names), 0);
}

static const struct CMUnitTest tests[] = {
    IT_TEST(test_classify_table),
    IT_TEST(test_sqlstate_table_rows_reachable),
    IT_TEST(test_session_sql_settings),
    IT_TEST(test_session_sql_uses_given_numbers),
    IT_TEST(test_wrap_null_driver_or_handle),
    IT_TEST(test_dbres_accessors_tolerate_null),
    IT_TEST(test_tx_control_on_a_lost_connection),
    IT_TEST(test_prepared_statement_choice),
};

IT_TEST_MAIN("db", tests)
