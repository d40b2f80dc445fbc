/*
 * it_multipart.c -- streaming multipart/form-data (RFC 7578, RFC 2046
 * section 5.1) and Content-Disposition (RFC 6266, RFC 8187) helpers.
 *
 * The delimiter search keeps no copy of the data: the bytes held while a
 * delimiter might be starting are always a prefix of the delimiter itself
 * (CRLF "--" boundary), so on a mismatch they are re-emitted from it. As
 * a boundary cannot contain CR (RFC 2046 bchars), the only place a
 * delimiter can restart after a partial match is the current byte, which
 * makes the search a single pass with no backtracking (no KMP table).
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "it_multipart.h"

enum {
    IT_MPS_PREAMBLE,     /* before the first delimiter */
    IT_MPS_AFTER,        /* just after a delimiter */
    IT_MPS_DASH,         /* after a delimiter and one '-' */
    IT_MPS_PAD,          /* transport padding (LWSP) after a delimiter */
    IT_MPS_CR,           /* CR after a delimiter, LF expected */
    IT_MPS_HEADERS,
    IT_MPS_BODY,
    IT_MPS_EPILOGUE,
    IT_MPS_ERROR
};

struct it_mp_t {
    apr_pool_t *pool;            /* the part's headers; cleared per part */
    const it_mp_callbacks_t *cb;
    void *ctx;
    char delim[4 + IT_MP_BOUNDARY_MAX + 1];
    size_t dlen;
    size_t m;                    /* bytes of delim matched so far */
    int state;
    it_mp_status_t err;
    int max_parts;
    int nparts;
    int nheaders;
    char line[IT_MP_HEADER_LINE_MAX + 1];
    size_t linelen;
    char **last;                 /* value of the last header, for folding */
    char *disposition;
    char *ctype;
    char *other;                 /* any other header's value (for folding) */
};

/* ---- UTF-8 -------------------------------------------------------------- */

/* Length (1..4) of the valid UTF-8 sequence at p (n bytes left) and its
 * code point, or 0 if the bytes there are not valid UTF-8. */
static size_t it_mp_utf8_seq(const unsigned char *p, size_t n, unsigned *cp)
{
    unsigned c = p[0], min;
    size_t len, i;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2; c &= 0x1f; min = 0x80;
    }
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3; c &= 0x0f; min = 0x800;
    }
    else if (c >= 0xf0 && c <= 0xf4) {
        len = 4; c &= 0x07; min = 0x10000;
    }
    else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return 0;
    }
    *cp = c;
    return len;
}

int it_mp_utf8_valid(const char *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t i = 0, n;
    unsigned cp;

    while (i < len) {
        if (!(n = it_mp_utf8_seq(p + i, len - i, &cp))) {
            return 0;
        }
        i += n;
    }
    return 1;
}

/* ---- header parameters -------------------------------------------------- */

static int it_mp_is_tchar(int c)
{
    /* RFC 9110 token characters */
    return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

static const char *it_mp_skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    return p;
}

/* Reads "; name=value" from *pp. Returns 1 with name/value set, 0 at the
 * end, -1 if malformed. A quoted value may use \" and \\; any other
 * backslash is kept, as browsers send Windows paths unescaped. */
static int it_mp_next_param(apr_pool_t *pool, const char **pp, char **name,
                            char **value)
{
    const char *p = it_mp_skip_ows(*pp), *s;
    char *out;

    if (!*p) {
        return 0;
    }
    if (*p != ';') {
        return -1;
    }
    p = it_mp_skip_ows(p + 1);
    if (!*p) {
        *pp = p;
        return 0;                     /* a trailing ';' is tolerated */
    }
    for (s = p; it_mp_is_tchar((unsigned char)*p); p++) {
    }
    if (p == s) {
        return -1;
    }
    *name = apr_pstrmemdup(pool, s, (apr_size_t)(p - s));
    p = it_mp_skip_ows(p);
    if (*p != '=') {
        return -1;
    }
    p = it_mp_skip_ows(p + 1);
    if (*p == '"') {
        out = apr_palloc(pool, strlen(p));
        *value = out;
        for (p++; *p && *p != '"'; p++) {
            if (*p == '\\' && (p[1] == '"' || p[1] == '\\')) {
                p++;
            }
            *out++ = *p;
        }
        if (*p != '"') {
            return -1;                /* unterminated */
        }
        *out = '\0';
        p++;
    }
    else {
        for (s = p; it_mp_is_tchar((unsigned char)*p) || *p == '/' || *p == '?'
                    || *p == '=' || *p == ':' || *p == '@'; p++) {
        }
        if (p == s) {
            return -1;
        }
        *value = apr_pstrmemdup(pool, s, (apr_size_t)(p - s));
    }
    *pp = p;
    return 1;
}

static int it_mp_hex(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = apr_tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* RFC 8187 ext-value "UTF-8'lang'pct-encoded": the decoded text, or NULL
 * (another charset, bad escapes, invalid UTF-8, NUL). */
static const char *it_mp_ext_value(apr_pool_t *pool, const char *v)
{
    const char *q1 = strchr(v, '\''), *q2;
    char *out, *o;

    if (!q1 || (size_t)(q1 - v) != 5 || strncasecmp(v, "UTF-8", 5)
        || !(q2 = strchr(q1 + 1, '\''))) {
        return NULL;
    }
    out = o = apr_palloc(pool, strlen(q2));
    for (v = q2 + 1; *v; v++) {
        if (*v == '%') {
            int h = it_mp_hex((unsigned char)v[1]), l;
            if (h < 0 || (l = it_mp_hex((unsigned char)v[2])) < 0 || (h == 0 && l == 0)) {
                return NULL;
            }
            *o++ = (char)(h * 16 + l);
            v += 2;
        }
        else {
            *o++ = *v;
        }
    }
    *o = '\0';
    return it_mp_utf8_valid(out, (size_t)(o - out)) ? out : NULL;
}

int it_mp_disposition(apr_pool_t *pool, const char *value, const char **type,
                      const char **name, const char **filename)
{
    const char *p, *s, *plain = NULL, *ext = NULL, *nm = NULL;
    char *pn, *pv;
    int rc;

    if (type) *type = NULL;
    if (name) *name = NULL;
    if (filename) *filename = NULL;
    if (!value) {
        return -1;
    }
    p = it_mp_skip_ows(value);
    for (s = p; it_mp_is_tchar((unsigned char)*p); p++) {
    }
    if (p == s) {
        return -1;
    }
    if (type) {
        char *t = apr_pstrmemdup(pool, s, (apr_size_t)(p - s)), *c;
        for (c = t; *c; c++) {
            *c = (char)apr_tolower(*c);
        }
        *type = t;
    }
    while ((rc = it_mp_next_param(pool, &p, &pn, &pv)) == 1) {
        if (!strcasecmp(pn, "name")) {
            nm = pv;
        }
        else if (!strcasecmp(pn, "filename")) {
            plain = pv;
        }
        else if (!strcasecmp(pn, "filename*")) {
            ext = it_mp_ext_value(pool, pv);
        }
    }
    if (rc < 0) {
        return -1;
    }
    if (name) *name = nm;
    if (filename) *filename = ext ? ext : plain;
    return 0;
}

const char *it_mp_media_type(apr_pool_t *pool, const char *content_type)
{
    const char *p, *e;
    char *out, *c;

    if (!content_type) {
        return NULL;
    }
    p = it_mp_skip_ows(content_type);
    for (e = p; *e && *e != ';'; e++) {
    }
    while (e > p && (e[-1] == ' ' || e[-1] == '\t')) {
        e--;
    }
    if (e == p) {
        return NULL;
    }
    out = apr_pstrmemdup(pool, p, (apr_size_t)(e - p));
    for (c = out; *c; c++) {
        *c = (char)apr_tolower(*c);
    }
    return out;
}

static int it_mp_is_bchar(int c)
{
    return apr_isalnum(c) || (c && strchr("'()+_,-./:=? ", c));
}

const char *it_mp_boundary(apr_pool_t *pool, const char *content_type,
                           int *is_multipart)
{
    const char *mt = it_mp_media_type(pool, content_type), *p, *b = NULL;
    char *pn, *pv;
    size_t n, i;
    int rc;

    *is_multipart = mt && !strcmp(mt, "multipart/form-data");
    if (!*is_multipart) {
        return NULL;
    }
    p = strchr(content_type, ';');
    if (!p) {
        return NULL;
    }
    while ((rc = it_mp_next_param(pool, &p, &pn, &pv)) == 1) {
        if (!strcasecmp(pn, "boundary")) {
            if (b) {
                return NULL;          /* two boundaries: ambiguous */
            }
            b = pv;
        }
    }
    if (rc < 0 || !b) {
        return NULL;
    }
    n = strlen(b);
    if (n < 1 || n > IT_MP_BOUNDARY_MAX || b[n - 1] == ' ') {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        if (!it_mp_is_bchar((unsigned char)b[i])) {
            return NULL;
        }
    }
    return b;
}

/* ---- filename ----------------------------------------------------------- */

static int it_mp_is_hidden_cp(unsigned cp)
{
    return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f)
           /* bidirectional overrides and isolates: they spoof extensions */
           || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e)
           || (cp >= 0x2066 && cp <= 0x2069);
}

const char *it_mp_sanitize_filename(apr_pool_t *pool, const char *name,
                                    const char *fallback)
{
    const unsigned char *p, *end;
    char *out, *o;
    size_t n;
    unsigned cp;

    if (!name) {
        return fallback;
    }
    for (p = (const unsigned char *)name + strlen(name);
         p > (const unsigned char *)name && p[-1] != '/' && p[-1] != '\\'; p--) {
    }
    end = p + strlen((const char *)p);
    out = o = apr_palloc(pool, IT_MP_FILENAME_MAX + 1);
    while (p < end) {
        char tmp[4];
        size_t tl;

        if (!(n = it_mp_utf8_seq(p, (size_t)(end - p), &cp))) {
            tmp[0] = '_';             /* not UTF-8: one byte, one '_' */
            tl = 1;
            n = 1;
        }
        else if (it_mp_is_hidden_cp(cp)) {
            p += n;
            continue;
        }
        else {
            memcpy(tmp, p, n);
            tl = n;
        }
        if ((size_t)(o - out) + tl > IT_MP_FILENAME_MAX) {
            break;                    /* cut before a whole character */
        }
        if (!(o == out && tmp[0] == ' ')) {
            memcpy(o, tmp, tl);
            o += tl;
        }
        p += n;
    }
    while (o > out && o[-1] == ' ') {
        o--;
    }
    *o = '\0';
    if (!*out || !strcmp(out, ".") || !strcmp(out, "..")) {
        return fallback;
    }
    return out;
}

/* ---- the parser --------------------------------------------------------- */

const char *it_mp_code(it_mp_status_t st)
{
    static const char *const codes[] = {
        "ok", "invalid_boundary", "malformed_multipart", "header_too_long",
        "too_many_headers", "missing_disposition", "too_many_parts",
        "truncated_multipart", "no_multipart_delimiter", "rejected"
    };
    return (unsigned)st < sizeof(codes) / sizeof(codes[0]) ? codes[st] : "malformed_multipart";
}

const char *it_mp_message(it_mp_status_t st)
{
    static const char *const msgs[] = {
        "ok",
        "The Content-Type has no valid multipart boundary parameter",
        "The multipart body is malformed",
        "A part header line is too long",
        "A part has too many header lines",
        "A part has no Content-Disposition: form-data with a name",
        "The multipart body has too many parts",
        "The multipart body ends before its closing delimiter",
        "The multipart body contains no delimiter line",
        "The upload was rejected"
    };
    return (unsigned)st < sizeof(msgs) / sizeof(msgs[0]) ? msgs[st] : msgs[2];
}

it_mp_t *it_mp_create(apr_pool_t *pool, const char *boundary, int max_parts,
                      const it_mp_callbacks_t *cb, void *ctx)
{
    it_mp_t *mp;
    size_t n = boundary ? strlen(boundary) : 0;

    if (n < 1 || n > IT_MP_BOUNDARY_MAX || memchr(boundary, '\r', n)
        || memchr(boundary, '\n', n)) {
        return NULL;
    }
    mp = apr_pcalloc(pool, sizeof(*mp));
    if (apr_pool_create(&mp->pool, pool) != APR_SUCCESS) {
        return NULL;
    }
    mp->cb = cb;
    mp->ctx = ctx;
    memcpy(mp->delim, "\r\n--", 4);
    memcpy(mp->delim + 4, boundary, n);
    mp->dlen = 4 + n;
    mp->m = 2;               /* the body is read as if preceded by CRLF */
    mp->state = IT_MPS_PREAMBLE;
    mp->max_parts = max_parts;
    return mp;
}

int it_mp_parts(const it_mp_t *mp)
{
    return mp->nparts;
}

static it_mp_status_t it_mp_fail(it_mp_t *mp, it_mp_status_t st)
{
    mp->state = IT_MPS_ERROR;
    mp->err = st;
    return st;
}

/* Scans for the delimiter, passing data before it to on_data when `emit`.
 * Returns the bytes consumed (through the delimiter when *found). */
static size_t it_mp_scan(it_mp_t *mp, const char *buf, size_t len, int emit,
                         int *found, int *cberr)
{
    size_t i = 0;

    *found = 0;
    *cberr = 0;
    while (i < len) {
        if (mp->m == 0) {
            const char *cr = memchr(buf + i, '\r', len - i);
            size_t n = cr ? (size_t)(cr - (buf + i)) : len - i;
            if (n && emit && mp->cb->on_data(mp->ctx, buf + i, n)) {
                *cberr = 1;
                return i;
            }
            i += n;
            if (!cr) {
                break;
            }
            mp->m = 1;
            i++;
            continue;
        }
        if (buf[i] == mp->delim[mp->m]) {
            i++;
            if (++mp->m == mp->dlen) {
                mp->m = 0;
                *found = 1;
                return i;
            }
            continue;
        }
        /* not a delimiter after all: what was held is data */
        if (emit && mp->cb->on_data(mp->ctx, mp->delim, mp->m)) {
            *cberr = 1;
            return i;
        }
        mp->m = 0;
    }
    return len;
}

static int it_mp_is_token(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!it_mp_is_tchar((unsigned char)s[i])) {
            return 0;
        }
    }
    return n > 0;
}

/* One complete header line (without CRLF). */
static it_mp_status_t it_mp_header_line(it_mp_t *mp, const char *line, size_t n)
{
    const char *colon;
    size_t i;

    for (i = 0; i < n; i++) {
        if (line[i] == '\0' || line[i] == '\r') {
            return IT_MP_E_SYNTAX;
        }
    }
    if (line[0] == ' ' || line[0] == '\t') {
        /* obsolete line folding (RFC 5322 2.2.3): part of the last header */
        if (!mp->last) {
            return IT_MP_E_SYNTAX;
        }
        *mp->last = apr_pstrcat(mp->pool, *mp->last, " ",
                                it_mp_skip_ows(apr_pstrmemdup(mp->pool, line, n)),
                                NULL);
        return IT_MP_OK;
    }
    if (++mp->nheaders > IT_MP_HEADERS_MAX) {
        return IT_MP_E_TOO_MANY_HEADERS;
    }
    colon = memchr(line, ':', n);
    if (!colon || !it_mp_is_token(line, (size_t)(colon - line))) {
        return IT_MP_E_SYNTAX;
    }
    i = (size_t)(colon - line);
    if (i == 19 && !strncasecmp(line, "Content-Disposition", 19)) {
        if (mp->disposition) {
            return IT_MP_E_SYNTAX;    /* two dispositions: ambiguous */
        }
        mp->last = &mp->disposition;
    }
    else if (i == 12 && !strncasecmp(line, "Content-Type", 12)) {
        if (mp->ctype) {
            return IT_MP_E_SYNTAX;
        }
        mp->last = &mp->ctype;
    }
    else {
        mp->last = &mp->other;
    }
    *mp->last = apr_pstrmemdup(mp->pool, colon + 1, n - i - 1);
    *mp->last = (char *)it_mp_skip_ows(*mp->last);
    {
        char *v = *mp->last, *e = v + strlen(v);
        while (e > v && (e[-1] == ' ' || e[-1] == '\t')) {
            *--e = '\0';
        }
    }
    return IT_MP_OK;
}

/* The blank line after a part's headers: announce the part. */
static it_mp_status_t it_mp_headers_done(it_mp_t *mp)
{
    it_mp_part_t part;
    const char *type, *name, *filename;

    if (!mp->disposition) {
        return IT_MP_E_NO_DISPOSITION;
    }
    if (it_mp_disposition(mp->pool, mp->disposition, &type, &name, &filename) != 0) {
        return IT_MP_E_SYNTAX;
    }
    if (strcmp(type, "form-data") || !name) {
        return IT_MP_E_NO_DISPOSITION;
    }
    part.name = name;
    part.filename = filename;
    part.content_type = mp->ctype;
    if (mp->cb->on_part && mp->cb->on_part(mp->ctx, &part)) {
        return IT_MP_E_CALLBACK;
    }
    return IT_MP_OK;
}

static it_mp_status_t it_mp_part_begin(it_mp_t *mp)
{
    if (mp->max_parts > 0 && mp->nparts >= mp->max_parts) {
        return IT_MP_E_TOO_MANY_PARTS;
    }
    mp->nparts++;
    apr_pool_clear(mp->pool);
    mp->nheaders = 0;
    mp->linelen = 0;
    mp->last = NULL;
    mp->disposition = mp->ctype = mp->other = NULL;
    mp->state = IT_MPS_HEADERS;
    return IT_MP_OK;
}

it_mp_status_t it_mp_feed(it_mp_t *mp, const char *buf, size_t len)
{
    size_t i = 0;
    it_mp_status_t st;

    while (i < len && mp->state != IT_MPS_ERROR) {
        int found, cberr;
        char c;

        switch (mp->state) {
        case IT_MPS_PREAMBLE:
        case IT_MPS_BODY:
            i += it_mp_scan(mp, buf + i, len - i, mp->state == IT_MPS_BODY,
                            &found, &cberr);
            if (cberr) {
                return it_mp_fail(mp, IT_MP_E_CALLBACK);
            }
            if (found) {
                if (mp->state == IT_MPS_BODY) {
                    if (mp->cb->on_part_end && mp->cb->on_part_end(mp->ctx)) {
                        return it_mp_fail(mp, IT_MP_E_CALLBACK);
                    }
                }
                mp->state = IT_MPS_AFTER;
            }
            break;
        case IT_MPS_AFTER:
            c = buf[i++];
            if (c == '-') {
                mp->state = IT_MPS_DASH;
            }
            else if (c == ' ' || c == '\t') {
                mp->state = IT_MPS_PAD;
            }
            else if (c == '\r') {
                mp->state = IT_MPS_CR;
            }
            else {
                return it_mp_fail(mp, IT_MP_E_SYNTAX);
            }
            break;
        case IT_MPS_DASH:
            if (buf[i++] != '-') {
                return it_mp_fail(mp, IT_MP_E_SYNTAX);
            }
            mp->state = IT_MPS_EPILOGUE;
            break;
        case IT_MPS_PAD:
            c = buf[i++];
            if (c == '\r') {
                mp->state = IT_MPS_CR;
            }
            else if (c != ' ' && c != '\t') {
                return it_mp_fail(mp, IT_MP_E_SYNTAX);
            }
            break;
        case IT_MPS_CR:
            if (buf[i++] != '\n') {
                return it_mp_fail(mp, IT_MP_E_SYNTAX);
            }
            if ((st = it_mp_part_begin(mp)) != IT_MP_OK) {
                return it_mp_fail(mp, st);
            }
            break;
        case IT_MPS_HEADERS: {
            const char *nl = memchr(buf + i, '\n', len - i);
            size_t n = nl ? (size_t)(nl - (buf + i)) : len - i;

            if (mp->linelen + n > IT_MP_HEADER_LINE_MAX) {
                return it_mp_fail(mp, IT_MP_E_HEADER_TOO_LONG);
            }
            memcpy(mp->line + mp->linelen, buf + i, n);
            mp->linelen += n;
            i += n;
            if (!nl) {
                break;
            }
            i++;                                  /* the LF */
            if (mp->linelen && mp->line[mp->linelen - 1] == '\r') {
                mp->linelen--;
            }
            if (mp->linelen == 0) {
                st = it_mp_headers_done(mp);
                mp->state = IT_MPS_BODY;
                mp->m = 0;
            }
            else {
                st = it_mp_header_line(mp, mp->line, mp->linelen);
                mp->linelen = 0;
            }
            if (st != IT_MP_OK) {
                return it_mp_fail(mp, st);
            }
            break;
        }
        case IT_MPS_EPILOGUE:
            i = len;                              /* ignored */
            break;
        default:
            break;
        }
    }
    return mp->state == IT_MPS_ERROR ? mp->err : IT_MP_OK;
}

it_mp_status_t it_mp_finish(it_mp_t *mp)
{
    switch (mp->state) {
    case IT_MPS_EPILOGUE:
        return IT_MP_OK;
    case IT_MPS_ERROR:
        return mp->err;
    case IT_MPS_PREAMBLE:
        return it_mp_fail(mp, IT_MP_E_NO_DELIMITER);
    default:
        return it_mp_fail(mp, IT_MP_E_TRUNCATED);
    }
}
