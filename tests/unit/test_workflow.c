/*
 * test_workflow.c -- the transition table (it_workflow.c) against the
 * workflow of DESIGN.md section 5, written out here once more as every
 * (from, to) pair of statuses: each allowed pair must be in the table and
 * each other pair must not, it_workflow_targets() must list exactly the
 * allowed targets in table order, and the table itself must be clean.
 */
#include "it_test.h"
#include "it_workflow.h"

#define NSTATUS 4

static const char *const statuses[NSTATUS] = {
    "open", "in_progress", "resolved", "closed"
};

/* DESIGN.md section 5:
 *   open -> in_progress | resolved | closed
 *   in_progress -> open | resolved | closed
 *   resolved -> closed | open (reopen) | in_progress
 *   closed -> open (reopen)                                   */
static const int allowed[NSTATUS][NSTATUS] = {
    /*               open  in_prog  resolved  closed */
    /* open     */ {  0,     1,       1,        1 },
    /* in_prog  */ {  1,     0,       1,        1 },
    /* resolved */ {  1,     1,       0,        1 },
    /* closed   */ {  1,     0,       0,        0 },
};

static void test_statuses_are_the_four_of_the_design(void **state)
{
    int i, n = 0;
    (void)state;

    for (i = 0; it_statuses[i]; i++) {
        n++;
    }
    assert_int_equal(n, NSTATUS);
    for (i = 0; i < NSTATUS; i++) {
        it_assert_str(it_statuses[i], statuses[i]);
        assert_true(it_workflow_is_status(statuses[i]));
    }
}

static void test_is_status_rejects_everything_else(void **state)
{
    static const char *const bad[] = {
        "", "Open", "OPEN", "in-progress", "inprogress", "done", "reopened",
        "open ", " open", "closed\n", "resolve", "deleted"
    };
    size_t i;
    int nbad = 0;
    (void)state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        IT_CHECK(nbad, !it_workflow_is_status(bad[i]), "\"%s\" taken as a status",
                 bad[i]);
    }
    IT_CHECK(nbad, !it_workflow_is_status(NULL), "NULL taken as a status");
    IT_CHECK_DONE(nbad);
}

/* All 16 pairs: the 10 allowed moves and the 6 that are not (including
 * the 4 "moves" to the same status, which are no-ops, not transitions). */
static void test_every_pair(void **state)
{
    int f, t, nbad = 0, nallowed = 0;
    (void)state;

    for (f = 0; f < NSTATUS; f++) {
        for (t = 0; t < NSTATUS; t++) {
            int got = it_workflow_allowed(statuses[f], statuses[t]);
            IT_CHECK(nbad, got == allowed[f][t], "%s -> %s: allowed %d, want %d",
                     statuses[f], statuses[t], got, allowed[f][t]);
            nallowed += allowed[f][t];
        }
    }
    assert_int_equal(nallowed, 10);
    IT_CHECK_DONE(nbad);
}

static void test_unknown_statuses_allow_nothing(void **state)
{
    int s, nbad = 0;
    (void)state;

    for (s = 0; s < NSTATUS; s++) {
        IT_CHECK(nbad, !it_workflow_allowed("done", statuses[s]), "done -> %s",
                 statuses[s]);
        IT_CHECK(nbad, !it_workflow_allowed(statuses[s], "done"), "%s -> done",
                 statuses[s]);
        IT_CHECK(nbad, !it_workflow_allowed(NULL, statuses[s]), "NULL -> %s",
                 statuses[s]);
        IT_CHECK(nbad, !it_workflow_allowed(statuses[s], NULL), "%s -> NULL",
                 statuses[s]);
    }
    IT_CHECK_DONE(nbad);
}

/* targets(from) = exactly the allowed "to"s, in the table's order. */
static void test_targets_match_the_pairs_in_table_order(void **state)
{
    int f, nbad = 0;
    (void)state;

    for (f = 0; f < NSTATUS; f++) {
        const char *out[NSTATUS + 2];
        const it_transition_t *t;
        int n = it_workflow_targets(statuses[f], out, NSTATUS + 2), k = 0, want = 0, s;

        for (s = 0; s < NSTATUS; s++) {
            want += allowed[f][s];
        }
        IT_CHECK(nbad, n == want, "%s: %d targets, want %d", statuses[f], n, want);
        for (t = it_transitions; t->from; t++) {
            if (strcmp(t->from, statuses[f])) {
                continue;
            }
            IT_CHECK(nbad, k < n && !strcmp(out[k], t->to),
                     "%s: target %d is %s, want %s", statuses[f], k,
                     k < n ? out[k] : "(none)", t->to);
            k++;
        }
        IT_CHECK(nbad, k == n, "%s: %d table rows, %d targets", statuses[f], k, n);
    }
    IT_CHECK_DONE(nbad);
}

static void test_targets_respects_capacity(void **state)
{
    const char *out[3] = { NULL, NULL, "sentinel" };
    (void)state;

    assert_int_equal(it_workflow_targets("open", out, 2), 2);
    it_assert_str(out[0], "in_progress");
    it_assert_str(out[1], "resolved");
    it_assert_str(out[2], "sentinel");
    assert_int_equal(it_workflow_targets("open", out, 0), 0);
    assert_int_equal(it_workflow_targets("nope", out, 3), 0);
    assert_int_equal(it_workflow_targets(NULL, out, 3), 0);
}

/* Rows: known statuses on both sides, never from == to, no duplicate
 * pair, a non-empty name each; reopen is what both ways back to open from
 * a finished issue are called. */
static void test_table_rows_are_clean(void **state)
{
    const it_transition_t *t, *u;
    int nbad = 0, n = 0;
    (void)state;

    for (t = it_transitions; t->from; t++) {
        n++;
        IT_CHECK(nbad, it_workflow_is_status(t->from), "row %d: from %s", n, t->from);
        IT_CHECK(nbad, t->to && it_workflow_is_status(t->to), "row %d: to %s", n,
                 IT_S(t->to));
        IT_CHECK(nbad, t->to && strcmp(t->from, t->to), "row %d: %s -> itself", n,
                 t->from);
        IT_CHECK(nbad, t->name && *t->name, "row %d: no name", n);
        for (u = it_transitions; u != t; u++) {
            IT_CHECK(nbad, strcmp(u->from, t->from) || strcmp(u->to, t->to),
                     "row %d repeats %s -> %s", n, t->from, t->to);
        }
        if (t->to && !strcmp(t->to, "open")
            && (!strcmp(t->from, "resolved") || !strcmp(t->from, "closed"))) {
            IT_CHECK(nbad, t->name && !strcmp(t->name, "reopen"),
                     "%s -> open is called %s, want reopen", t->from, IT_S(t->name));
        }
    }
    assert_int_equal(n, 10);
    IT_CHECK_DONE(nbad);
}

/* Every status can be left, and every status can be reached again: no
 * dead end in the workflow (closed issues can be reopened). */
static void test_no_dead_ends(void **state)
{
    int s, nbad = 0;
    (void)state;

    for (s = 0; s < NSTATUS; s++) {
        const char *out[NSTATUS];
        const it_transition_t *t;
        int reached = 0;

        IT_CHECK(nbad, it_workflow_targets(statuses[s], out, NSTATUS) > 0,
                 "%s is a dead end", statuses[s]);
        for (t = it_transitions; t->from; t++) {
            reached |= !strcmp(t->to, statuses[s]);
        }
        IT_CHECK(nbad, reached, "%s cannot be reached", statuses[s]);
    }
    IT_CHECK_DONE(nbad);
}

static const struct CMUnitTest tests[] = {
    IT_TEST(test_statuses_are_the_four_of_the_design),
    IT_TEST(test_is_status_rejects_everything_else),
    IT_TEST(test_every_pair),
    IT_TEST(test_unknown_statuses_allow_nothing),
    IT_TEST(test_targets_match_the_pairs_in_table_order),
    IT_TEST(test_targets_respects_capacity),
    IT_TEST(test_table_rows_are_clean),
    IT_TEST(test_no_dead_ends),
};

IT_TEST_MAIN("workflow", tests)
