/*
 * it_csv.c -- streaming CSV for the issue import (see it_csv.h).
 *
 * libcsv does the RFC 4180 tokenising; we add what it does not know:
 *  - line numbers. libcsv reports fields and row ends, not positions. The
 *    input is fed one physical line at a time (LF, CR or CRLF), so a row end
 *    happens while the parser is on a known line; the row started that many
 *    lines earlier as its fields hold '\n's. Blank lines, which libcsv
 *    skips, stay counted.
 *  - strictness: CSV_STRICT rejects a quote inside an unquoted field or
 *    after a closing quote, CSV_STRICT_FINI an unterminated quote at the
 *    end; spaces around fields are data (libcsv trims them by default).
 *  - the UTF-8 BOM, split across chunks if it must be;
 *  - the export's formula guard: one leading quote before = + - @ tab CR
 *    or a quote is removed from every cell (it_csv_unguard), so that an
 *    export re-imports unchanged.
 */
#include <string.h>
#include <stdlib.h>
#include <stdarg.h>
#include <csv.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "it_csv.h"
#include "it_json.h"

const char *const it_csv_columns[] = {
    "title", "description", "priority", "type", "status", "assignee",
    "labels", "project", NULL
};

static const char *const it_csv_priorities[] = {
    "low", "medium", "high", "critical", NULL
};
static const char *const it_csv_types[] = { "bug", "feature", "task", NULL };
static const char *const it_csv_statuses[] = {
    "open", "in_progress", "resolved", "closed", NULL
};

/* Header fields beyond this many are counted, not kept. */
#define IT_CSV_MAX_FIELDS 64
#define IT_CSV_NAME_MAX 64

typedef struct {
    apr_size_t off;                  /* into scratch */
    apr_size_t len;
} it_csv_span_t;

struct it_csv_t {
    apr_pool_t *pool;
    struct csv_parser p;
    int parser_live;
    int max_rows;
    it_csv_status_t status;

    int line;                        /* line being fed (1-based) */
    int last_end;                    /* line on which the last row ended */
    int after_cr;                    /* the last byte fed was a CR */
    unsigned char bom[3];            /* a possible BOM not yet decided */
    int bom_len;
    int bom_done;

    /* the row being collected */
    char *scratch;                   /* malloc'd, freed by a pool cleanup */
    apr_size_t scratch_len, scratch_cap;
    it_csv_span_t fields[IT_CSV_MAX_FIELDS];
    int nfields;
    int newlines;                    /* '\n' inside the row's fields */

    /* the header */
    int have_header;
    int header_ok;
    int ncols;                       /* fields in the header */
    int colmap[IT_CSV_MAX_FIELDS];   /* header field -> it_csv_col_t or -1 */
    int has_col[IT_CSV_NCOLS];

    apr_array_header_t *rows;
    apr_array_header_t *errors;
    int nerrors;
};

static apr_status_t it_csv_cleanup(void *data)
{
    it_csv_t *c = data;

    if (c->parser_live) {
        csv_free(&c->p);
        c->parser_live = 0;
    }
    free(c->scratch);
    c->scratch = NULL;
    return APR_SUCCESS;
}

/* Spaces around a field are data (RFC 4180 section 2.4). */
static int it_csv_no_space(unsigned char ch)
{
    (void)ch;
    return 0;
}

it_csv_t *it_csv_create(apr_pool_t *pool, int max_rows)
{
    it_csv_t *c = apr_pcalloc(pool, sizeof(*c));

    c->pool = pool;
    c->max_rows = max_rows;
    c->line = 1;
    if (csv_init(&c->p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        return NULL;
    }
    csv_set_space_func(&c->p, it_csv_no_space);
    c->parser_live = 1;
    c->scratch_cap = 4096;
    if (!(c->scratch = malloc(c->scratch_cap))) {
        csv_free(&c->p);
        return NULL;
    }
    c->rows = apr_array_make(pool, 1024, sizeof(it_csv_row_t));
    c->errors = apr_array_make(pool, 16, sizeof(it_csv_error_t));
    apr_pool_cleanup_register(pool, c, it_csv_cleanup, apr_pool_cleanup_null);
    return c;
}

static void it_csv_error(it_csv_t *c, int line, const char *column,
                         const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Records an error; only the first IT_CSV_MAX_ERRORS are kept (and only
 * those are formatted: 100k bad rows must not cost 100k messages). */
static void it_csv_error(it_csv_t *c, int line, const char *column,
                         const char *code, const char *fmt, ...)
{
    it_csv_error_t *e;
    va_list ap;

    c->nerrors++;
    if (c->errors->nelts >= IT_CSV_MAX_ERRORS) {
        return;
    }
    e = apr_array_push(c->errors);
    e->line = line;
    e->column = column;
    e->code = code;
    va_start(ap, fmt);
    e->message = apr_pvsprintf(c->pool, fmt, ap);
    va_end(ap);
}

/* ---- the formula guard ------------------------------------------------------ */

int it_csv_needs_guard(const char *s, apr_size_t len)
{
    /* strchr would find the terminator for a NUL byte */
    return len && *s && strchr(IT_CSV_GUARD_CHARS, *s) != NULL;
}

int it_csv_unguard(const char **s, apr_size_t *len)
{
    if (*len >= 2 && (*s)[0] == '\'' && it_csv_needs_guard(*s + 1, *len - 1)) {
        (*s)++;
        (*len)--;
        return 1;
    }
    return 0;
}

/* ---- field collection ----------------------------------------------------- */

static void it_csv_on_field(void *s, size_t len, void *data)
{
    it_csv_t *c = data;
    it_csv_span_t *f;
    const char *p = s, *end = p ? p + len : NULL, *nl;

    if (c->status != IT_CSV_OK) {
        return;
    }
    /* line breaks inside a quoted field: LF, CR or CRLF */
    for (nl = p; nl && nl < end; nl++) {
        if (*nl == '\n' || (*nl == '\r' && (nl + 1 == end || nl[1] != '\n'))) {
            c->newlines++;
        }
    }
    if (c->nfields >= IT_CSV_MAX_FIELDS) {
        c->nfields++;                /* counted for the ragged-row check */
        return;
    }
    if (c->scratch_len + len > c->scratch_cap) {
        apr_size_t cap = c->scratch_cap;
        char *n;
        while (c->scratch_len + len > cap) {
            cap *= 2;
        }
        if (!(n = realloc(c->scratch, cap))) {
            c->status = IT_CSV_ABORTED;
            it_csv_error(c, c->line, NULL, "too_big", "out of memory");
            return;
        }
        c->scratch = n;
        c->scratch_cap = cap;
    }
    f = &c->fields[c->nfields++];
    f->off = c->scratch_len;
    f->len = len;
    if (len) {
        memcpy(c->scratch + c->scratch_len, s, len);
        c->scratch_len += len;
    }
}

static void it_csv_trim(const char **s, apr_size_t *len)
{
    while (*len && apr_isspace(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len && apr_isspace((*s)[*len - 1])) {
        (*len)--;
    }
}

/* A header name fit for an error message: valid UTF-8, at most
 * IT_CSV_NAME_MAX bytes (cut at a character boundary). */
static const char *it_csv_name(it_csv_t *c, const char *s, apr_size_t len)
{
    if (!it_utf8_valid(s, len) || memchr(s, '\0', len)) {
        return NULL;
    }
    if (len > IT_CSV_NAME_MAX) {
        len = IT_CSV_NAME_MAX;
        while (len && ((unsigned char)s[len] & 0xC0) == 0x80) {
            len--;
        }
    }
    return apr_pstrmemdup(c->pool, s, len);
}

static void it_csv_header(it_csv_t *c, int line)
{
    int i, col, known = 0, bad = 0;

    c->have_header = 1;
    c->ncols = c->nfields;
    if (c->nfields > IT_CSV_MAX_FIELDS) {
        it_csv_error(c, line, NULL, "too_many_columns",
                     "the header has %d columns; at most %d are allowed",
                     c->nfields, IT_CSV_MAX_FIELDS);
        return;
    }
    for (i = 0; i < c->nfields; i++) {
        const char *s = c->scratch + c->fields[i].off;
        apr_size_t len = c->fields[i].len;

        c->colmap[i] = -1;
        it_csv_trim(&s, &len);
        for (col = 0; col < IT_CSV_NCOLS; col++) {
            if (strlen(it_csv_columns[col]) == len
                && !strncasecmp(it_csv_columns[col], s, len)) {
                break;
            }
        }
        if (col == IT_CSV_NCOLS) {
            continue;
        }
        known++;
        if (c->has_col[col]) {
            it_csv_error(c, line, it_csv_columns[col], "duplicate_column",
                         "the column %s appears more than once",
                         it_csv_columns[col]);
            bad++;
            continue;
        }
        c->has_col[col] = 1;
        c->colmap[i] = col;
    }
    if (!known) {
        it_csv_error(c, line, NULL, "missing_header",
                     "the first row must be a header naming the columns (%s, ...)",
                     "title, description, priority, type, status, assignee, labels, project");
        return;
    }
    for (i = 0; i < c->nfields; i++) {
        const char *s = c->scratch + c->fields[i].off, *name;
        apr_size_t len = c->fields[i].len;

        if (c->colmap[i] >= 0) {
            continue;
        }
        /* a column named twice was reported above */
        it_csv_trim(&s, &len);
        for (col = 0; col < IT_CSV_NCOLS; col++) {
            if (strlen(it_csv_columns[col]) == len
                && !strncasecmp(it_csv_columns[col], s, len)) {
                break;
            }
        }
        if (col < IT_CSV_NCOLS) {
            continue;
        }
        name = it_csv_name(c, s, len);
        it_csv_error(c, line, name, name ? "unknown_column" : "invalid_utf8",
                     name ? "is not a column of the import (title, description, "
                            "priority, type, status, assignee, labels, project)"
                          : "a header name is not valid UTF-8");
        bad++;
    }
    if (!c->has_col[IT_CSV_TITLE]) {
        it_csv_error(c, line, "title", "required",
                     "the header must name a title column");
        bad++;
    }
    c->header_ok = !bad;
}

static int it_csv_enum(const char *const *values, const char *s, apr_size_t len)
{
    for (; *values; values++) {
        if (strlen(*values) == len && !strncasecmp(*values, s, len)) {
            return 1;
        }
    }
    return 0;
}

static const char *it_csv_lower(apr_pool_t *pool, const char *s, apr_size_t len)
{
    char *out = apr_pstrmemdup(pool, s, len), *o;

    for (o = out; *o; o++) {
        *o = (char)apr_tolower(*o);
    }
    return out;
}

/* Labels: ';'-separated names, trimmed; empty ones dropped, repeats (in
 * any case) dropped. NULL with an error recorded when one is too long. */
static const char *it_csv_labels(it_csv_t *c, int line, const char *s,
                                 apr_size_t len)
{
    char *out = apr_palloc(c->pool, len + 1);
    apr_size_t olen = 0;
    const char *end = s + len;

    while (s <= end) {
        const char *semi = memchr(s, ';', (apr_size_t)(end - s));
        const char *name = s;
        apr_size_t nlen = (apr_size_t)((semi ? semi : end) - s);
        apr_size_t chars;

        it_csv_trim(&name, &nlen);
        if (nlen) {
            char *tmp = apr_pstrmemdup(c->pool, name, nlen);
            const char *q;
            int dup = 0;

            chars = it_utf8_len(tmp);
            if (chars > IT_CSV_LABEL_MAX) {
                it_csv_error(c, line, "labels", "too_long",
                             "label names have at most %d characters",
                             IT_CSV_LABEL_MAX);
                return NULL;
            }
            /* out holds names separated by ';': look for this one */
            for (q = out; q < out + olen;) {
                const char *qe = memchr(q, ';', (apr_size_t)(out + olen - q));
                apr_size_t qlen = (apr_size_t)((qe ? qe : out + olen) - q);
                if (qlen == nlen && !strncasecmp(q, name, nlen)) {
                    dup = 1;
                    break;
                }
                q += qlen + 1;
            }
            if (!dup) {
                if (olen) {
                    out[olen++] = ';';
                }
                memcpy(out + olen, name, nlen);
                olen += nlen;
            }
        }
        if (!semi) {
            break;
        }
        s = semi + 1;
    }
    out[olen] = '\0';
    return olen ? out : NULL;
}

static int it_csv_blank(const char *s, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (!apr_isspace(s[i])) {
            return 0;
        }
    }
    return 1;
}

/* Checks one cell and returns its stored form (NULL: empty or bad). */
static const char *it_csv_cell(it_csv_t *c, int line, int col, const char *s,
                               apr_size_t len)
{
    const char *name = it_csv_columns[col];
    const char *t;
    apr_size_t tlen;

    /* every column: the export guards whatever cell it writes, and the
     * guard is on the value as written, before any trimming */
    it_csv_unguard(&s, &len);
    t = s;
    tlen = len;
    if (memchr(s, '\0', len)) {
        it_csv_error(c, line, name, "invalid_character",
                     "must not contain NUL characters");
        return NULL;
    }
    if (!it_utf8_valid(s, len)) {
        it_csv_error(c, line, name, "invalid_utf8", "is not valid UTF-8");
        return NULL;
    }
    switch (col) {
    case IT_CSV_TITLE: {
        const char *v = NULL;
        if (it_csv_blank(s, len)) {
            it_csv_error(c, line, name, "required", "must not be blank");
            return NULL;
        }
        if (len <= IT_CSV_TITLE_MAX * 4) {
            v = apr_pstrmemdup(c->pool, s, len);
        }
        if (!v || it_utf8_len(v) > IT_CSV_TITLE_MAX) {
            it_csv_error(c, line, name, "too_long",
                         "must be at most %d characters", IT_CSV_TITLE_MAX);
            return NULL;
        }
        return v;
    }
    case IT_CSV_DESCRIPTION:
        if (len > IT_CSV_DESCRIPTION_MAX) {
            it_csv_error(c, line, name, "too_long",
                         "must be at most %d bytes of UTF-8", IT_CSV_DESCRIPTION_MAX);
            return NULL;
        }
        return len ? apr_pstrmemdup(c->pool, s, len) : NULL;
    case IT_CSV_PRIORITY:
    case IT_CSV_TYPE:
    case IT_CSV_STATUS: {
        const char *const *values = col == IT_CSV_PRIORITY ? it_csv_priorities
                                  : col == IT_CSV_TYPE ? it_csv_types
                                  : it_csv_statuses;
        it_csv_trim(&t, &tlen);
        if (!tlen) {
            return NULL;             /* the default */
        }
        if (!it_csv_enum(values, t, tlen)) {
            it_csv_error(c, line, name, "enum", "must be one of %s",
                         col == IT_CSV_PRIORITY ? "low, medium, high, critical"
                         : col == IT_CSV_TYPE ? "bug, feature, task"
                         : "open, in_progress, resolved, closed");
            return NULL;
        }
        return it_csv_lower(c->pool, t, tlen);
    }
    case IT_CSV_LABELS:
        return it_csv_labels(c, line, s, len);
    default:                         /* assignee, project: resolved later */
        it_csv_trim(&t, &tlen);
        if (!tlen) {
            return NULL;
        }
        if (tlen > IT_CSV_REF_MAX) {
            it_csv_error(c, line, name, "too_long",
                         "must be at most %d characters", IT_CSV_REF_MAX);
            return NULL;
        }
        return apr_pstrmemdup(c->pool, t, tlen);
    }
}

static void it_csv_data_row(it_csv_t *c, int line)
{
    it_csv_row_t *row;
    int i;

    if ((int)c->rows->nelts >= c->max_rows && c->max_rows > 0) {
        c->status = IT_CSV_TOO_MANY_ROWS;
        return;
    }
    row = apr_array_push(c->rows);
    memset(row, 0, sizeof(*row));
    row->line = line;
    if (c->nfields != c->ncols) {
        it_csv_error(c, line, NULL, "field_count",
                     "has %d fields; the header has %d", c->nfields, c->ncols);
    }
    for (i = 0; i < c->nfields && i < c->ncols; i++) {
        int col = c->colmap[i];
        if (col >= 0) {
            row->f[col] = it_csv_cell(c, line, col, c->scratch + c->fields[i].off,
                                      c->fields[i].len);
        }
    }
}

static void it_csv_on_row(int term, void *data)
{
    it_csv_t *c = data;
    int start = c->line - c->newlines;

    (void)term;
    if (c->status != IT_CSV_OK) {
        return;
    }
    if (!c->have_header) {
        it_csv_header(c, start);
    }
    else if (c->header_ok) {
        it_csv_data_row(c, start);
    }
    /* after a broken header the rows mean nothing: they are not kept */
    c->last_end = c->line;
    c->nfields = 0;
    c->newlines = 0;
    c->scratch_len = 0;
}

/* ---- feeding -------------------------------------------------------------- */

static void it_csv_parse_error(it_csv_t *c, int line)
{
    int e = csv_error(&c->p);
    const char *column = NULL;

    if (c->have_header && c->nfields < c->ncols && c->nfields < IT_CSV_MAX_FIELDS
        && c->colmap[c->nfields] >= 0) {
        column = it_csv_columns[c->colmap[c->nfields]];
    }
    c->status = IT_CSV_ABORTED;
    if (e == CSV_EPARSE) {
        it_csv_error(c, line, column, "invalid_quote",
                     "a quote must open and close a whole field "
                     "(a quote inside a field is written twice)");
    }
    else {
        it_csv_error(c, line, column, "too_big", "%s", csv_strerror(e));
    }
}

/* Feeds libcsv one line at a time. Like libcsv, a line ends with LF, CR
 * or CRLF (counted once, also when a chunk ends between the two). */
static void it_csv_parse(it_csv_t *c, const char *buf, apr_size_t len)
{
    while (len && c->status == IT_CSV_OK) {
        apr_size_t n = 0;
        char end = 0;

        while (n < len) {
            char ch = buf[n++];
            if (ch == '\n' || ch == '\r') {
                end = ch;
                break;
            }
        }
        if (csv_parse(&c->p, buf, n, it_csv_on_field, it_csv_on_row, c) != n) {
            if (c->status == IT_CSV_OK) {
                it_csv_parse_error(c, c->line);
            }
            return;
        }
        if (end == '\r' || (end == '\n' && !(c->after_cr && n == 1))) {
            c->line++;
        }
        c->after_cr = end == '\r';
        buf += n;
        len -= n;
    }
}

it_csv_status_t it_csv_feed(it_csv_t *c, const char *buf, apr_size_t len)
{
    static const unsigned char bom[3] = { 0xEF, 0xBB, 0xBF };

    if (!c->bom_done) {
        while (len && c->bom_len < 3) {
            if ((unsigned char)*buf != bom[c->bom_len]) {
                /* not a BOM: what was held back is data */
                c->bom_done = 1;
                it_csv_parse(c, (const char *)c->bom, (apr_size_t)c->bom_len);
                break;
            }
            c->bom[c->bom_len++] = (unsigned char)*buf++;
            len--;
        }
        if (c->bom_len == 3) {
            c->bom_done = 1;
        }
    }
    it_csv_parse(c, buf, len);
    return c->status;
}

it_csv_status_t it_csv_finish(it_csv_t *c)
{
    if (!c->bom_done) {
        c->bom_done = 1;
        it_csv_parse(c, (const char *)c->bom, (apr_size_t)c->bom_len);
    }
    if (c->status == IT_CSV_OK
        && csv_fini(&c->p, it_csv_on_field, it_csv_on_row, c) != 0
        && c->status == IT_CSV_OK) {
        /* an open quote at the end: it opened the unfinished row */
        c->status = IT_CSV_ABORTED;
        it_csv_error(c, c->last_end + 1, NULL, "unbalanced_quote",
                     "a quoted field is not closed before the end of the file");
    }
    if (c->status == IT_CSV_OK) {
        if (!c->have_header) {
            it_csv_error(c, 1, NULL, "missing_header",
                         "the file is empty: a header row is required");
        }
        else if (c->header_ok && c->rows->nelts == 0) {
            it_csv_error(c, c->last_end + 1, NULL, "no_rows",
                         "the file has a header but no rows");
        }
    }
    return c->status;
}

const apr_array_header_t *it_csv_rows(const it_csv_t *c)
{
    return c->rows;
}

const apr_array_header_t *it_csv_errors(const it_csv_t *c)
{
    return c->errors;
}

int it_csv_error_count(const it_csv_t *c)
{
    return c->nerrors;
}

int it_csv_has_column(const it_csv_t *c, it_csv_col_t col)
{
    return col < IT_CSV_NCOLS && c->has_col[col];
}

int it_csv_header_ok(const it_csv_t *c)
{
    return c->header_ok;
}

/* ---- COPY text format ------------------------------------------------------ */

apr_size_t it_csv_copy_line_max(const it_csv_row_t *row)
{
    apr_size_t n = 12 + IT_CSV_NCOLS + 1;
    int i;

    for (i = 0; i < IT_CSV_NCOLS; i++) {
        n += row->f[i] ? 2 * strlen(row->f[i]) : 2;
    }
    return n;
}

/* PostgreSQL COPY text format: backslash escapes for the separator, line
 * breaks and the backslash itself; \N is NULL. */
apr_size_t it_csv_copy_line(const it_csv_row_t *row, char *buf, apr_size_t cap)
{
    char *o = buf;
    int i;

    if (it_csv_copy_line_max(row) > cap) {
        return 0;
    }
    o += snprintf(o, cap, "%d", row->line);
    for (i = 0; i < IT_CSV_NCOLS; i++) {
        const char *s = row->f[i];
        *o++ = '\t';
        if (!s) {
            *o++ = '\\';
            *o++ = 'N';
            continue;
        }
        for (; *s; s++) {
            switch (*s) {
            case '\\': *o++ = '\\'; *o++ = '\\'; break;
            case '\n': *o++ = '\\'; *o++ = 'n'; break;
            case '\r': *o++ = '\\'; *o++ = 'r'; break;
            case '\t': *o++ = '\\'; *o++ = 't'; break;
            default:   *o++ = *s;
            }
        }
    }
    *o++ = '\n';
    return (apr_size_t)(o - buf);
}
