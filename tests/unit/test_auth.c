/*
 * test_auth.c -- the permission table: its cells, its invariants, and
 * docs/permissions.md generated from it.
 *   build/unit/test_auth --print   writes the markdown to stdout
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "it_auth.h"
#include "it_dispatch.h"

static int setup(void **state)
{
    apr_pool_t *p;
    apr_pool_create(&p, NULL);
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    apr_pool_destroy(*state);
    return 0;
}

typedef struct {
    const char *action;
    it_role_t role;
    int own;
    int expect;
} cell_t;

/* Cells named in DESIGN.md section 6; the table must say the same. */
static const cell_t cells[] = {
    { "issues.create",     IT_ROLE_REPORTER,  0, 1 },
    { "issues.update",     IT_ROLE_REPORTER,  1, 1 },
    { "issues.update",     IT_ROLE_REPORTER,  0, 0 },
    { "issues.update",     IT_ROLE_DEVELOPER, 0, 1 },
    { "issues.transition", IT_ROLE_REPORTER,  0, 0 },
    { "issues.assign",     IT_ROLE_REPORTER,  1, 0 },
    { "issues.assign",     IT_ROLE_DEVELOPER, 0, 1 },
    { "issues.delete",     IT_ROLE_DEVELOPER, 1, 0 },
    { "issues.delete",     IT_ROLE_MANAGER,   0, 1 },
    { "issues.bulk",       IT_ROLE_MANAGER,   0, 1 },
    { "issues.import",     IT_ROLE_DEVELOPER, 0, 0 },
    { "projects.create",   IT_ROLE_DEVELOPER, 0, 0 },
    { "projects.create",   IT_ROLE_MANAGER,   0, 1 },
    { "projects.update",   IT_ROLE_MANAGER,   1, 1 },
    { "projects.update",   IT_ROLE_MANAGER,   0, 0 },
    { "projects.update",   IT_ROLE_ADMIN,     0, 1 },
    { "projects.delete",   IT_ROLE_DEVELOPER, 1, 0 },
    { "users.create",      IT_ROLE_MANAGER,   0, 0 },
    { "users.create",      IT_ROLE_ADMIN,     0, 1 },
    { "users.update",      IT_ROLE_REPORTER,  1, 1 },
    { "users.update",      IT_ROLE_MANAGER,   0, 0 },
    { "users.update_role", IT_ROLE_MANAGER,   1, 0 },
    { "users.delete",      IT_ROLE_ADMIN,     0, 1 },
    { "users.me",          IT_ROLE_REPORTER,  0, 1 },
    { "comments.update",   IT_ROLE_REPORTER,  1, 1 },
    { "comments.update",   IT_ROLE_MANAGER,   0, 0 },
    { "comments.delete",   IT_ROLE_MANAGER,   0, 1 },
    { "comments.delete",   IT_ROLE_DEVELOPER, 0, 0 },
    { "attachments.create", IT_ROLE_REPORTER, 1, 1 },
    { "attachments.create", IT_ROLE_REPORTER, 0, 0 },
    { "attachments.create", IT_ROLE_DEVELOPER, 0, 1 },
    { "attachments.delete", IT_ROLE_MANAGER,  0, 1 },
    { "labels.create",     IT_ROLE_DEVELOPER, 0, 0 },
    { "labels.create",     IT_ROLE_MANAGER,   0, 1 },
    { "reports.read",      IT_ROLE_DEVELOPER, 0, 0 },
    { "reports.read",      IT_ROLE_MANAGER,   0, 1 },
    { "deleted.read",      IT_ROLE_MANAGER,   0, 0 },
    { "deleted.read",      IT_ROLE_ADMIN,     0, 1 },
    { "issues.restore",    IT_ROLE_MANAGER,   0, 0 },
    { "no.such.action",    IT_ROLE_ADMIN,     1, 0 },
};

static void test_cells(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(cells) / sizeof(cells[0]); i++) {
        it_caller_t c = { "id", "u", cells[i].role };
        if (it_auth_allowed(&c, cells[i].action, cells[i].own) != cells[i].expect) {
            fail_msg("%s as %s (own=%d) should be %s", cells[i].action,
                     it_role_name(cells[i].role), cells[i].own,
                     cells[i].expect ? "allowed" : "denied");
        }
    }
}

/* Roles are cumulative: whatever a role may do, every higher role may. */
static void test_roles_are_cumulative(void **state)
{
    const it_permission_t *p;
    (void)state;
    for (p = it_permissions; p->action; p++) {
        int r, own;
        for (own = 0; own <= 1; own++) {
            for (r = IT_ROLE_REPORTER; r < IT_ROLE_ADMIN; r++) {
                it_caller_t lo = { "id", "u", (it_role_t)r };
                it_caller_t hi = { "id", "u", (it_role_t)(r + 1) };
                if (it_auth_allowed(&lo, p->action, own)) {
                    assert_true(it_auth_allowed(&hi, p->action, own));
                }
            }
        }
        /* admin may do everything; ownership never grants more than "any" to admin */
        {
            it_caller_t a = { "id", "u", IT_ROLE_ADMIN };
            assert_true(it_auth_allowed(&a, p->action, 0));
        }
        if (p->own != IT_ROLE_NONE) {
            assert_true(p->own < p->any);
        }
    }
}

static void test_no_caller_or_no_role_is_denied(void **state)
{
    it_caller_t none = { "id", "u", IT_ROLE_NONE };
    (void)state;
    assert_false(it_auth_allowed(NULL, "issues.read", 1));
    assert_false(it_auth_allowed(&none, "issues.read", 1));
}

static void test_every_route_action_has_a_row(void **state)
{
    const it_resource_t *const *res;
    (void)state;
    for (res = it_resources; *res; res++) {
        const it_route_t *rt;
        for (rt = (*res)->routes; rt->method; rt++) {
            if (rt->flags & IT_ROUTE_PUBLIC) {
                continue;
            }
            if (!rt->action || !it_permission_find(rt->action)) {
                fail_msg("%s %s has no permission row (action %s)", rt->method,
                         rt->pattern, rt->action ? rt->action : "NULL");
            }
        }
    }
}

static void test_role_names_round_trip(void **state)
{
    int r;
    (void)state;
    for (r = IT_ROLE_REPORTER; r <= IT_ROLE_ADMIN; r++) {
        assert_int_equal(it_role_parse(it_role_name((it_role_t)r)), r);
    }
    assert_int_equal(it_role_parse("Admin"), IT_ROLE_NONE);
    assert_int_equal(it_role_parse(""), IT_ROLE_NONE);
    assert_int_equal(it_role_parse(NULL), IT_ROLE_NONE);
}

static void test_permissions_doc_is_current(void **state)
{
    apr_pool_t *p = *state;
    const char *want = it_auth_permissions_markdown(p);
    FILE *f = fopen("docs/permissions.md", "r");
    char *have;
    long n;

    if (!f) {
        fail_msg("docs/permissions.md is missing: make permissions-doc");
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    have = apr_palloc(p, (apr_size_t)n + 1);
    have[fread(have, 1, (size_t)n, f)] = '\0';
    fclose(f);
    if (strcmp(have, want)) {
        fail_msg("docs/permissions.md differs from it_permissions[]: make permissions-doc");
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cells),
        cmocka_unit_test(test_roles_are_cumulative),
        cmocka_unit_test(test_no_caller_or_no_role_is_denied),
        cmocka_unit_test(test_every_route_action_has_a_row),
        cmocka_unit_test(test_role_names_round_trip),
        cmocka_unit_test_setup_teardown(test_permissions_doc_is_current, setup, teardown),
    };
    int rc;

    apr_initialize();
    if (argc == 2 && !strcmp(argv[1], "--print")) {
        apr_pool_t *p;
        apr_pool_create(&p, NULL);
        fputs(it_auth_permissions_markdown(p), stdout);
        apr_terminate();
        return 0;
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
