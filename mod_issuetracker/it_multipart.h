/*
 * it_multipart.h -- a streaming multipart/form-data parser (RFC 7578 on
 * RFC 2046 section 5.1), and the Content-Disposition helpers uploads need.
 *
 * No httpd types: the parser is fed whatever chunks the body arrives in
 * (one byte at a time works) and calls back with part headers and part
 * data as it goes, so memory stays flat whatever the size of a part. It
 * never reads past what it is given, never keeps part data, and turns any
 * malformed input into an error code: tests/unit/test_multipart.c walks
 * the cases, tests/fuzz/fuzz_multipart.c fuzzes it.
 *
 * Boundaries: the body is read as if preceded by CRLF, so the first
 * delimiter may start the body; a delimiter is CRLF "--" boundary, followed
 * by optional linear white space and CRLF, or by "--" (the close delimiter,
 * after which everything is epilogue). Preamble and epilogue are ignored.
 * Header lines end with CRLF (a bare LF is accepted); obsolete folded lines
 * are joined. The delimiter inside part data is an error: RFC 2046 forbids
 * it, so a body whose boundary appears in the content is malformed.
 */
#ifndef IT_MULTIPART_H
#define IT_MULTIPART_H

#include <stddef.h>
#include <apr_pools.h>

/* Limits (RFC 2046: a boundary is 1..70 characters). */
#define IT_MP_BOUNDARY_MAX   70
#define IT_MP_HEADER_LINE_MAX 8192     /* one header line of a part */
#define IT_MP_HEADERS_MAX    32        /* header lines per part */
#define IT_MP_FILENAME_MAX   255       /* bytes, cut on a UTF-8 boundary */

typedef enum {
    IT_MP_OK = 0,
    IT_MP_E_BOUNDARY,        /* Content-Type has no usable boundary */
    IT_MP_E_SYNTAX,          /* bytes after a delimiter, or a broken header */
    IT_MP_E_HEADER_TOO_LONG, /* a header line over IT_MP_HEADER_LINE_MAX */
    IT_MP_E_TOO_MANY_HEADERS,
    IT_MP_E_NO_DISPOSITION,  /* a part without Content-Disposition: form-data */
    IT_MP_E_TOO_MANY_PARTS,  /* more than the max_parts given to create */
    IT_MP_E_TRUNCATED,       /* the body ended before the close delimiter */
    IT_MP_E_NO_DELIMITER,    /* the body has no delimiter at all */
    IT_MP_E_CALLBACK         /* a callback returned non-zero */
} it_mp_status_t;

/* A part's headers, valid during on_part only (copy what you keep). */
typedef struct {
    const char *name;          /* the form field name ("" if absent) */
    const char *filename;      /* filename* decoded, else filename; NULL if none */
    const char *content_type;  /* as sent, NULL if absent */
} it_mp_part_t;

/* Callbacks return 0 to go on; anything else stops the parse with
 * IT_MP_E_CALLBACK (the callback's own reason is the caller's to keep). */
typedef struct {
    int (*on_part)(void *ctx, const it_mp_part_t *part);
    int (*on_data)(void *ctx, const char *buf, size_t len);
    int (*on_part_end)(void *ctx);
} it_mp_callbacks_t;

typedef struct it_mp_t it_mp_t;

/* A parser for `boundary` (from it_mp_boundary). max_parts > 0 caps the
 * number of parts. Its memory lives in a subpool of pool: constant per
 * parser, whatever the number of parts. NULL for an invalid boundary. */
it_mp_t *it_mp_create(apr_pool_t *pool, const char *boundary, int max_parts,
                      const it_mp_callbacks_t *cb, void *ctx);

/* Feeds the next len bytes. Returns IT_MP_OK or the (sticky) error. */
it_mp_status_t it_mp_feed(it_mp_t *mp, const char *buf, size_t len);

/* The body ended: IT_MP_OK only if the close delimiter was seen. */
it_mp_status_t it_mp_finish(it_mp_t *mp);

/* Number of parts begun so far. */
int it_mp_parts(const it_mp_t *mp);

/* A stable machine code for a status ("truncated", ...). */
const char *it_mp_code(it_mp_status_t st);
/* A sentence for the problem detail. */
const char *it_mp_message(it_mp_status_t st);

/* The boundary of a multipart/form-data Content-Type, NULL if the type is
 * not multipart/form-data or its boundary is missing or invalid (RFC 2046
 * bchars, 1..70, not ending in a space). Sets *is_multipart when the type
 * is multipart/form-data (so the caller can tell 400 from 415). */
const char *it_mp_boundary(apr_pool_t *pool, const char *content_type,
                           int *is_multipart);

/* Parses a Content-Disposition value: *type gets the lowercased
 * disposition type ("form-data", "attachment"), *name the name parameter,
 * *filename the filename* (RFC 8187, UTF-8 only) when present and valid,
 * else filename. Outputs may be NULL. Returns 0, or -1 if the value is
 * malformed. */
int it_mp_disposition(apr_pool_t *pool, const char *value, const char **type,
                      const char **name, const char **filename);

/* The client's filename made safe to keep as metadata: the last path
 * component (after '/' or '\'), invalid UTF-8 replaced by '_', control
 * characters (C0, DEL, C1) removed, surrounding blanks trimmed, at most
 * IT_MP_FILENAME_MAX bytes cut on a character boundary. "", "." and ".."
 * become `fallback`. Never NULL. */
const char *it_mp_sanitize_filename(apr_pool_t *pool, const char *name,
                                    const char *fallback);

/* The media type of a Content-Type value without parameters, lowercased;
 * NULL for NULL or an empty type. */
const char *it_mp_media_type(apr_pool_t *pool, const char *content_type);

/* 1 if buf is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
int it_mp_utf8_valid(const char *buf, size_t len);

#endif
