/*
 * test_openapi.c -- the route tables and docs/openapi.yaml describe the
 * same API: every public route is in the spec with its method, and every
 * operation in the spec is routed. Reads the bundled build/docs/openapi.json
 * (make docs), or the file named by IT_OPENAPI_JSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "it_dispatch.h"

static json_t *spec;

/* "/api/v1/issues/{ref}/labels/{label_id}" -> "/api/v1/issues/{}/labels/{}" */
static char *normalise(apr_pool_t *p, const char *path)
{
    char *out = apr_palloc(p, strlen(path) + 1), *o = out;
    while (*path) {
        if (*path == '{') {
            while (*path && *path != '}') {
                path++;
            }
            *o++ = '{';
            *o++ = '}';
            if (*path) {
                path++;
            }
        }
        else {
            *o++ = *path++;
        }
    }
    *o = '\0';
    return out;
}

static json_t *spec_operation(apr_pool_t *p, const char *pattern, const char *method)
{
    const char *key;
    json_t *item;
    const char *want = normalise(p, pattern);
    json_object_foreach(json_object_get(spec, "paths"), key, item) {
        if (!strcmp(normalise(p, key), want)) {
            char *m = apr_pstrdup(p, method);
            for (char *c = m; *c; c++) {
                *c = (char)tolower((unsigned char)*c);
            }
            return json_object_get(item, m);
        }
    }
    return NULL;
}

static void test_every_route_is_documented(void **state)
{
    apr_pool_t *p;
    const it_resource_t *const *res;
    int n = 0;
    (void)state;
    apr_pool_create(&p, NULL);
    for (res = it_resources; *res; res++) {
        const it_route_t *rt;
        for (rt = (*res)->routes; rt->method; rt++) {
            if (rt->flags & IT_ROUTE_INTERNAL) {
                continue;
            }
            if (!spec_operation(p, rt->pattern, rt->method)) {
                fail_msg("route %s %s is not in docs/openapi.yaml", rt->method,
                         rt->pattern);
            }
            n++;
        }
    }
    assert_true(n > 0);
    apr_pool_destroy(p);
}

static int routed(apr_pool_t *p, const char *path, const char *method)
{
    const it_resource_t *const *res;
    const char *want = normalise(p, path);
    for (res = it_resources; *res; res++) {
        const it_route_t *rt;
        for (rt = (*res)->routes; rt->method; rt++) {
            if (!(rt->flags & IT_ROUTE_INTERNAL) && !strcasecmp(rt->method, method)
                && !strcmp(normalise(p, rt->pattern), want)) {
                return 1;
            }
        }
    }
    return 0;
}

/* Paths served by Apache itself (Alias to the built docs), not the module. */
static const char *const static_paths[] = { "/openapi.json", "/api/docs", "/api/redoc", NULL };

static void test_every_documented_operation_is_routed(void **state)
{
    apr_pool_t *p;
    const char *path, *method;
    json_t *item, *op;
    int n = 0;
    (void)state;
    apr_pool_create(&p, NULL);
    json_object_foreach(json_object_get(spec, "paths"), path, item) {
        const char *const *s;
        int is_static = 0;
        for (s = static_paths; *s; s++) {
            is_static |= !strcmp(*s, path);
        }
        json_object_foreach(item, method, op) {
            static const char *const verbs[] = { "get", "post", "put", "patch",
                                                 "delete", "head", "options", NULL };
            const char *const *v;
            int is_verb = 0;
            for (v = verbs; *v; v++) {
                is_verb |= !strcmp(*v, method);
            }
            if (!is_verb || is_static) {
                continue;
            }
            if (!routed(p, path, method)) {
                fail_msg("%s %s is in the spec but not routed", method, path);
            }
            n++;
        }
    }
    assert_true(n > 0);
    apr_pool_destroy(p);
}

int main(void)
{
    const char *file = getenv("IT_OPENAPI_JSON");
    json_error_t err;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_route_is_documented),
        cmocka_unit_test(test_every_documented_operation_is_routed),
    };
    int rc;

    apr_initialize();
    spec = json_load_file(file ? file : "build/docs/openapi.json", 0, &err);
    if (!spec) {
        fprintf(stderr, "cannot load the bundled spec (run make docs): %s\n", err.text);
        return 1;
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    json_decref(spec);
    apr_terminate();
    return rc;
}
