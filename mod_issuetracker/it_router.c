/*
 * it_router.c -- route lookup that tells 404 (no such path) from 405 (path
 * exists, method does not), as kore does.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "it_router.h"

int it_is_uuid(const char *s)
{
    static const int dash[36] = { [8] = 1, [13] = 1, [18] = 1, [23] = 1 };
    int i;

    if (!s) {
        return 0;
    }
    for (i = 0; i < 36; i++) {
        if (dash[i]) {
            if (s[i] != '-') {
                return 0;
            }
        }
        else if (!apr_isxdigit(s[i])) {
            return 0;
        }
    }
    return s[36] == '\0';
}

int it_is_issue_key(const char *s)
{
    int n = 0;

    if (!s || !apr_isupper(*s)) {
        return 0;
    }
    for (s++; apr_isupper(*s) || apr_isdigit(*s); s++) {
        n++;
    }
    if (n < 1 || n > 9 || *s != '-' || s[1] < '1' || s[1] > '9') {
        return 0;
    }
    for (s++, n = 0; apr_isdigit(*s); s++) {
        n++;
    }
    return *s == '\0' && n <= 9;
}

/* Matches one path against a pattern, segment by segment; fills params. */
static int it_route_match(const char *pattern, const char *path,
                          apr_pool_t *pool, const char **params, int *nparams)
{
    const char *p = pattern, *s = path;
    int n = 0;

    while (*p && *s) {
        const char *pe, *se;

        if (*p != '/' || *s != '/') {
            return 0;
        }
        p++;
        s++;
        pe = strchr(p, '/');
        se = strchr(s, '/');
        if (!pe) {
            pe = p + strlen(p);
        }
        if (!se) {
            se = s + strlen(s);
        }
        if (*p == '{') {
            const char *val;
            if (se == s || n >= IT_MAX_PATH_PARAMS) {
                return 0;
            }
            val = apr_pstrmemdup(pool, s, se - s);
            if (!strncmp(p, "{ref}", 5)) {
                if (!it_is_uuid(val) && !it_is_issue_key(val)) {
                    return 0;
                }
            }
            else if (!it_is_uuid(val)) {
                return 0;
            }
            params[n++] = val;
        }
        else if (pe - p != se - s || strncmp(p, s, pe - p)) {
            return 0;
        }
        p = pe;
        s = se;
    }
    /* One trailing slash on the request is accepted (/api/v1/issues/). */
    if (*p == '\0' && (*s == '\0' || (s[0] == '/' && s[1] == '\0'))) {
        *nparams = n;
        return 1;
    }
    return 0;
}

void it_router_find(const it_resource_t *const *resources, const char *method,
                    const char *path, apr_pool_t *pool, it_match_t *m)
{
    const it_resource_t *const *res;
    const char *allow = NULL;
    int have_get = 0;

    memset(m, 0, sizeof(*m));
    m->status = 404;
    if (!path || *path != '/' || strstr(path, "//")) {
        return;
    }
    for (res = resources; *res; res++) {
        const it_route_t *rt;
        for (rt = (*res)->routes; rt->method; rt++) {
            const char *params[IT_MAX_PATH_PARAMS];
            int n = 0;

            if (!it_route_match(rt->pattern, path, pool, params, &n)) {
                continue;
            }
            if (m->status != 0 && ((rt->flags & IT_ROUTE_ANYMETHOD)
                                   || !strcmp(rt->method, method))) {
                m->route = rt;
                m->status = 0;
                m->nparams = n;
                memcpy(m->params, params, sizeof(params));
            }
            if (!strcmp(rt->method, "GET")) {
                have_get = 1;
            }
            allow = allow ? apr_pstrcat(pool, allow, ", ", rt->method, NULL)
                          : rt->method;
        }
    }
    if (!allow) {
        return;                         /* 404 */
    }
    if (have_get) {
        allow = apr_pstrcat(pool, allow, ", HEAD", NULL);
    }
    m->allow = apr_pstrcat(pool, allow, ", OPTIONS", NULL);
    if (m->status != 0) {
        m->status = 405;
    }
}
