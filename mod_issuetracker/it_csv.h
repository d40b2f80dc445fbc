/*
 * it_csv.h -- the CSV of POST /issues/import: a streaming parser on top of
 * libcsv (RFC 4180: quoted fields, embedded separators, quotes and
 * newlines, CRLF; a UTF-8 byte order mark is dropped) and the checks of a
 * row that need no database (required title, lengths, enums, UTF-8).
 *
 * No httpd and no database here: the import handler feeds the upload in
 * chunks as it arrives, and the unit tests and the fuzzer feed strings.
 * Names that need the database (assignee, labels, project) are only
 * shape-checked; the handler resolves them set-based afterwards.
 *
 * Rows are kept (compactly, one allocation per row in the pool) until the
 * whole file has been checked: an import is all or nothing.
 */
#ifndef IT_CSV_H
#define IT_CSV_H

#include <apr_pools.h>
#include <apr_tables.h>

/* The columns an import understands, in the order of it_csv_columns[]. */
typedef enum {
    IT_CSV_TITLE,
    IT_CSV_DESCRIPTION,
    IT_CSV_PRIORITY,
    IT_CSV_TYPE,
    IT_CSV_STATUS,
    IT_CSV_ASSIGNEE,
    IT_CSV_LABELS,
    IT_CSV_PROJECT,
    IT_CSV_NCOLS
} it_csv_col_t;

/* Header names of the columns, indexed by it_csv_col_t. */
extern const char *const it_csv_columns[];

#define IT_CSV_TITLE_MAX       200     /* characters */
#define IT_CSV_DESCRIPTION_MAX 65536   /* bytes, as issues_description_check */
#define IT_CSV_LABEL_MAX       50      /* characters, as labels_name_check */
#define IT_CSV_REF_MAX         254     /* assignee / project reference */
#define IT_CSV_MAX_ERRORS      1000    /* error items kept; all are counted */

/* One data row. A field is NULL when the column is absent, the cell is
 * empty or the cell failed its check (its error is recorded). Enums are
 * lowercased; labels are normalised to trimmed, de-duplicated names
 * joined by ';'. */
typedef struct {
    int line;                        /* 1-based line where the row starts */
    const char *f[IT_CSV_NCOLS];
} it_csv_row_t;

typedef struct {
    int line;                        /* 1-based line of the file (header 1) */
    const char *column;              /* header name, NULL for the whole row */
    const char *code;
    const char *message;
} it_csv_error_t;

typedef enum {
    IT_CSV_OK = 0,
    IT_CSV_TOO_MANY_ROWS,            /* more than max_rows data rows */
    IT_CSV_ABORTED                   /* a syntax error ended the parse */
} it_csv_status_t;

typedef struct it_csv_t it_csv_t;

/* A parser whose rows and errors live in pool. max_rows > 0 bounds the
 * number of data rows (the parse stops at max_rows + 1). */
it_csv_t *it_csv_create(apr_pool_t *pool, int max_rows);

/* Feeds the next len bytes. Returns IT_CSV_OK, or the status that ended
 * the parse (further input is ignored). */
it_csv_status_t it_csv_feed(it_csv_t *c, const char *buf, apr_size_t len);

/* Ends the input (flushes a last row without a line break, reports an
 * unterminated quote and a missing header or no data rows). */
it_csv_status_t it_csv_finish(it_csv_t *c);

/* Rows (it_csv_row_t), errors (it_csv_error_t, at most IT_CSV_MAX_ERRORS,
 * in line order), the count of all errors, and whether the header named
 * each column. Borrowed from the parser (owned by its pool). */
const apr_array_header_t *it_csv_rows(const it_csv_t *c);
const apr_array_header_t *it_csv_errors(const it_csv_t *c);
int it_csv_error_count(const it_csv_t *c);
int it_csv_has_column(const it_csv_t *c, it_csv_col_t col);
/* 1 if the header was read and was valid (rows are meaningful). */
int it_csv_header_ok(const it_csv_t *c);

/* The formula guard shared by the export and the import. Against formula
 * injection (OWASP "CSV Injection") the export writes a cell whose value
 * starts with one of IT_CSV_GUARD_CHARS with a leading single quote. The
 * quote itself is one of them, so the guard is reversible without
 * ambiguity: '=x is written ''=x, and the import strips exactly one
 * leading quote when a guarded character follows it. A lone 'abc was
 * never guarded and stays 'abc. */
#define IT_CSV_GUARD_CHARS "=+-@\t\r'"

/* 1 if a value of len bytes at s is written with the guard. */
int it_csv_needs_guard(const char *s, apr_size_t len);

/* Removes the guard from a cell of the file: advances *s past one leading
 * quote (and shortens *len) when it is followed by a guarded character.
 * Returns 1 if it did. */
int it_csv_unguard(const char **s, apr_size_t *len);

/* Appends a COPY text-format line of a row to buf (tab separated,
 * backslash escapes, \N for NULL) for
 * COPY t (line, title, description, priority, type, status, assignee,
 * labels, project). Returns the bytes written, or 0 when cap is too small
 * (nothing written). */
apr_size_t it_csv_copy_line(const it_csv_row_t *row, char *buf, apr_size_t cap);

/* Upper bound of it_csv_copy_line's output for a row. */
apr_size_t it_csv_copy_line_max(const it_csv_row_t *row);

#endif
