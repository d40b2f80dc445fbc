/*
 * fuzz_csv.c -- libFuzzer target for the import's CSV path without a
 * database: it_csv parse + row checks, the COPY line encoder, fed in
 * chunk sizes taken from the input (so a BOM, a quote or a CRLF can be
 * split anywhere), then the invariants the handler relies on:
 *  - rows are in file order and start on lines that exist;
 *  - kept errors are at most IT_CSV_MAX_ERRORS, in line order, and
 *    counted; their columns and messages are valid UTF-8 (they go to JSON);
 *  - every kept cell is valid UTF-8 without NUL, titles are 1-200
 *    characters, enums are one of their values;
 *  - the COPY line of every row fits its announced bound and holds exactly
 *    IT_CSV_NCOLS tabs and one (final) newline.
 *
 *   make fuzz-csv            (FUZZ_CSV_SECONDS, default 60)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_pools.h>

#include "it_csv.h"
#include "it_json.h"

static apr_pool_t *root;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (apr_initialize() != APR_SUCCESS || apr_pool_create(&root, NULL) != APR_SUCCESS) {
        abort();
    }
    return 0;
}

static int one_of(const char *v, const char *const *values)
{
    for (; *values; values++) {
        if (!strcmp(v, *values)) {
            return 1;
        }
    }
    return 0;
}

static void check_row(const it_csv_row_t *row, int max_line)
{
    static const char *const prio[] = { "low", "medium", "high", "critical", NULL };
    static const char *const type[] = { "bug", "feature", "task", NULL };
    static const char *const status[] = { "open", "in_progress", "resolved", "closed", NULL };
    char buf[4096];
    apr_size_t max = it_csv_copy_line_max(row), n, i, tabs = 0, nls = 0;
    char *line = max <= sizeof(buf) ? buf : malloc(max);
    int c;

    if (row->line < 2 || row->line > max_line) {
        abort();
    }
    for (c = 0; c < IT_CSV_NCOLS; c++) {
        const char *v = row->f[c];
        if (v && !it_utf8_valid(v, strlen(v))) {
            abort();
        }
    }
    if (row->f[IT_CSV_TITLE] && (it_utf8_len(row->f[IT_CSV_TITLE]) > IT_CSV_TITLE_MAX
                                 || !*row->f[IT_CSV_TITLE])) {
        abort();
    }
    if ((row->f[IT_CSV_PRIORITY] && !one_of(row->f[IT_CSV_PRIORITY], prio))
        || (row->f[IT_CSV_TYPE] && !one_of(row->f[IT_CSV_TYPE], type))
        || (row->f[IT_CSV_STATUS] && !one_of(row->f[IT_CSV_STATUS], status))) {
        abort();
    }
    n = it_csv_copy_line(row, line, max);
    if (n == 0 || n > max) {
        abort();
    }
    for (i = 0; i < n; i++) {
        tabs += line[i] == '\t';
        nls += line[i] == '\n';
    }
    if (tabs != IT_CSV_NCOLS || nls != 1 || line[n - 1] != '\n') {
        abort();
    }
    if (line != buf) {
        free(line);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool;
    it_csv_t *c;
    size_t chunk, off, i;
    int max_rows, lines = 1, prev;
    const apr_array_header_t *rows, *errs;

    if (size < 2) {
        return 0;
    }
    chunk = (size_t)data[0] % 64 + 1;       /* 1..64 bytes per feed */
    max_rows = data[1] % 8 ? 50 : 3;        /* sometimes a tiny limit */
    data += 2;
    size -= 2;
    for (i = 0; i < size; i++) {              /* LF, CR and CRLF end a line */
        lines += data[i] == '\n' ? !(i && data[i - 1] == '\r') : data[i] == '\r';
    }
    apr_pool_create(&pool, root);
    c = it_csv_create(pool, max_rows);
    if (!c) {
        abort();
    }
    for (off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (it_csv_feed(c, (const char *)data + off, n) != IT_CSV_OK) {
            break;
        }
    }
    if (off >= size) {
        it_csv_finish(c);
    }
    rows = it_csv_rows(c);
    errs = it_csv_errors(c);
    if (rows->nelts > max_rows || errs->nelts > IT_CSV_MAX_ERRORS
        || it_csv_error_count(c) < errs->nelts) {
        abort();
    }
    for (i = 0, prev = 0; i < (size_t)rows->nelts; i++) {
        const it_csv_row_t *row = &APR_ARRAY_IDX(rows, i, it_csv_row_t);
        if (row->line <= prev) {
            abort();
        }
        prev = row->line;
        check_row(row, lines);
    }
    for (i = 0, prev = 0; i < (size_t)errs->nelts; i++) {
        const it_csv_error_t *e = &APR_ARRAY_IDX(errs, i, it_csv_error_t);
        if (e->line < prev || e->line < 1 || e->line > lines + 1 || !e->code
            || !e->message || !it_utf8_valid(e->message, strlen(e->message))
            || (e->column && !it_utf8_valid(e->column, strlen(e->column)))) {
            abort();
        }
        prev = e->line;
    }
    apr_pool_destroy(pool);
    return 0;
}
