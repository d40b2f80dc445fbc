/*
 * fuzz_multipart.c -- libFuzzer target for the streaming multipart parser.
 *
 * Input layout: byte 0 picks the boundary length (from a fixed alphabet,
 * so the corpus' messages parse), byte 1 seeds the chunk sizes; the rest is
 * the body, fed in pseudo-random chunks of 1..256 bytes so that delimiters
 * and header lines fall across reads as they do on the wire. The same body
 * is then fed in one piece: both runs must reach the same result and see
 * the same part data (the parser's output must not depend on how the body
 * was split). Also runs the Content-Disposition and filename helpers on
 * the raw input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "it_multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    unsigned long hash;          /* of parts, names and data, in order */
    size_t bytes;
    int parts;
} fz_state_t;

static void fz_mix(fz_state_t *s, const void *p, size_t n)
{
    const unsigned char *c = p;
    size_t i;
    for (i = 0; i < n; i++) {
        s->hash = s->hash * 31 + c[i];
    }
}

static int fz_on_part(void *ctx, const it_mp_part_t *part)
{
    fz_state_t *s = ctx;
    s->parts++;
    fz_mix(s, "P", 1);
    fz_mix(s, part->name, strlen(part->name));
    if (part->filename) {
        fz_mix(s, part->filename, strlen(part->filename));
    }
    return 0;
}

static int fz_on_data(void *ctx, const char *buf, size_t len)
{
    fz_state_t *s = ctx;
    s->bytes += len;
    fz_mix(s, buf, len);
    return 0;
}

static int fz_on_end(void *ctx)
{
    fz_mix(ctx, "E", 1);
    return 0;
}

static const it_mp_callbacks_t fz_cb = { fz_on_part, fz_on_data, fz_on_end };

static const char fz_boundary[] = "XyZ--boundary0123456789";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static apr_pool_t *root;
    apr_pool_t *pool;
    fz_state_t a, b;
    it_mp_status_t ra, rb;
    it_mp_t *mp;
    const char *body, *t, *n, *f;
    char *bnd, *str;
    size_t blen, off, len;
    unsigned seed;

    if (size < 2) {
        return 0;
    }
    if (!root) {
        apr_initialize();
        apr_pool_create(&root, NULL);
    }
    apr_pool_create(&pool, root);
    blen = 1 + data[0] % (sizeof(fz_boundary) - 1);
    bnd = apr_pstrmemdup(pool, fz_boundary, blen);
    seed = data[1];
    body = (const char *)data + 2;
    len = size - 2;

    memset(&a, 0, sizeof(a));
    mp = it_mp_create(pool, bnd, 50, &fz_cb, &a);
    ra = IT_MP_OK;
    for (off = 0; off < len && ra == IT_MP_OK;) {
        size_t n1;
        seed = seed * 1103515245u + 12345u;
        n1 = 1 + (seed >> 16) % 256;
        if (n1 > len - off) {
            n1 = len - off;
        }
        ra = it_mp_feed(mp, body + off, n1);
        off += n1;
    }
    if (ra == IT_MP_OK) {
        ra = it_mp_finish(mp);
    }

    memset(&b, 0, sizeof(b));
    mp = it_mp_create(pool, bnd, 50, &fz_cb, &b);
    rb = it_mp_feed(mp, body, len);
    if (rb == IT_MP_OK) {
        rb = it_mp_finish(mp);
    }
    if (ra != rb || (ra == IT_MP_OK && (a.hash != b.hash || a.bytes != b.bytes
                                         || a.parts != b.parts))) {
        abort();                 /* the split changed the result */
    }

    /* the header helpers take NUL-terminated text */
    str = apr_pstrmemdup(pool, body, len);
    it_mp_disposition(pool, str, &t, &n, &f);
    f = it_mp_sanitize_filename(pool, f ? f : str, "x");
    if (!f || strlen(f) > IT_MP_FILENAME_MAX || strchr(f, '/') || strchr(f, '\\')
        || !it_mp_utf8_valid(f, strlen(f))) {
        abort();
    }
    {
        int is_mp;
        const char *bb = it_mp_boundary(pool, str, &is_mp);
        if (bb && (strlen(bb) < 1 || strlen(bb) > IT_MP_BOUNDARY_MAX)) {
            abort();
        }
    }
    apr_pool_destroy(pool);
    return 0;
}
