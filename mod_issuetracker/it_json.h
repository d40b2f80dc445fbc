/*
 * it_json.h -- strict JSON bodies: parse, then validate against a field
 * spec table. Unknown fields, wrong types, missing required fields and out
 * of range values are all reported at once, one `errors` item per field.
 */
#ifndef IT_JSON_H
#define IT_JSON_H

#include "it_types.h"

typedef enum {
    IT_JT_STRING,       /* min/max: length in characters (code points) */
    IT_JT_INT,          /* min/max: value */
    IT_JT_BOOL,
    IT_JT_UUID,         /* a UUID string */
    IT_JT_ENUM,         /* a string, one of `values` */
    IT_JT_EMAIL,        /* a string, plausible address, max chars */
    IT_JT_UUID_ARRAY,   /* array of unique UUID strings, min/max items */
    IT_JT_OBJECT        /* any object; the handler validates inside */
} it_json_type_t;

#define IT_F_REQUIRED 0x01u
#define IT_F_NULLABLE 0x02u

typedef struct {
    const char *name;
    it_json_type_t type;
    unsigned flags;
    long long min, max;           /* 0/0: unbounded */
    const char *const *values;    /* IT_JT_ENUM: NULL terminated */
    /* Optional extra check: returns NULL if ok, else a message. */
    const char *(*check)(const char *value);
} it_field_t;

/* Default request-body limit when IssueTrackerMaxBodySize is unset. */
#define IT_JSON_BODY_MAX_DEFAULT (1024 * 1024)

/* Reads and parses the body of req as a JSON object and validates it
 * against spec (a table terminated by a row with name NULL). On success
 * returns 0 and sets *out (borrowed: owned by the request pool). On
 * failure fills resp with a problem (400, 413, 415, 422) and returns its
 * status. */
int it_json_body(it_req_t *req, it_resp_t *resp, const it_field_t *spec,
                 json_t **out);

/* Validates obj against spec, appending to *errors (created on demand).
 * Returns the number of errors added. */
int it_json_validate(json_t *obj, const it_field_t *spec, json_t **errors);

/* 1 if ctype is application/json or a +json type (parameters ignored). */
int it_json_is_json_ctype(const char *ctype);

/* Number of UTF-8 code points in s (s assumed valid UTF-8). */
size_t it_utf8_len(const char *s);

/* A copy of the JSON text s without whitespace outside strings. */
const char *it_json_compact(apr_pool_t *pool, const char *s);

/* 1 if buf is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
int it_utf8_valid(const char *buf, size_t len);

#endif
