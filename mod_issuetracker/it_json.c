/*
 * it_json.c -- strict body parsing and validation.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "it_json.h"
#include "it_problem.h"
#include "it_router.h"
#include "it_config.h"

static apr_status_t it_json_cleanup(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

json_t *it_json_pool_own(apr_pool_t *pool, json_t *j)
{
    if (j) {
        apr_pool_cleanup_register(pool, j, it_json_cleanup,
                                  apr_pool_cleanup_null);
    }
    return j;
}

int it_resp_json(it_resp_t *resp, int status, json_t *body)
{
    resp->status = status;
    resp->json = it_json_pool_own(resp->pool, body);
    resp->content_type = "application/json";
    return status;
}

size_t it_utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        if (((unsigned char)*s & 0xC0) != 0x80) {
            n++;
        }
    }
    return n;
}

int it_utf8_valid(const char *buf, size_t len)
{
    const unsigned char *s = (const unsigned char *)buf, *end = s + len;

    while (s < end) {
        unsigned c = *s, need, cp;
        if (c < 0x80) {
            s++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1; cp = c & 0x1F;
        }
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2; cp = c & 0x0F;
        }
        else if (c >= 0xF0 && c <= 0xF4) {
            need = 3; cp = c & 0x07;
        }
        else {
            return 0;
        }
        if ((size_t)(end - s) <= need) {
            return 0;
        }
        for (unsigned i = 1; i <= need; i++) {
            if ((s[i] & 0xC0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000)
            || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return 0;
        }
        s += need + 1;
    }
    return 1;
}

int it_json_is_json_ctype(const char *ctype)
{
    size_t n;
    const char *semi;

    if (!ctype) {
        return 0;
    }
    while (*ctype == ' ') {
        ctype++;
    }
    semi = strchr(ctype, ';');
    n = semi ? (size_t)(semi - ctype) : strlen(ctype);
    while (n && ctype[n - 1] == ' ') {
        n--;
    }
    if (n == 16 && !strncasecmp(ctype, "application/json", 16)) {
        return 1;
    }
    /* application/merge-patch+json and other structured +json types */
    return n > 17 && !strncasecmp(ctype, "application/", 12)
           && !strncasecmp(ctype + n - 5, "+json", 5);
}

static const char *it_json_type_name(it_json_type_t t)
{
    switch (t) {
    case IT_JT_STRING: case IT_JT_ENUM: case IT_JT_EMAIL: return "a string";
    case IT_JT_UUID: return "a UUID string";
    case IT_JT_INT: return "an integer";
    case IT_JT_BOOL: return "a boolean";
    case IT_JT_UUID_ARRAY: return "an array of UUIDs";
    case IT_JT_OBJECT: return "an object";
    }
    return "a value";
}

static const char *it_email_check(const char *v)
{
    const char *at = strchr(v, '@');
    const char *dot;
    const char *p;

    for (p = v; *p; p++) {
        if (apr_iscntrl(*p) || *p == ' ' || *p == ',' || *p == '<' || *p == '>') {
            return "must be an email address";
        }
    }
    if (!at || at == v || strchr(at + 1, '@')) {
        return "must be an email address";
    }
    dot = strrchr(at + 1, '.');
    if (!dot || dot == at + 1 || dot[1] == '\0') {
        return "must be an email address";
    }
    return NULL;
}

/* Validates one present field; returns NULL or {code, message}. */
static int it_field_check(const it_field_t *f, json_t *v, const char **code,
                          const char **msg, apr_pool_t *pool)
{
    if (json_is_null(v)) {
        if (f->flags & IT_F_NULLABLE) {
            return 0;
        }
        *code = "null";
        *msg = "must not be null";
        return 1;
    }
    switch (f->type) {
    case IT_JT_STRING:
    case IT_JT_ENUM:
    case IT_JT_EMAIL:
    case IT_JT_UUID: {
        const char *s;
        size_t len;
        if (!json_is_string(v)) {
            break;
        }
        s = json_string_value(v);
        if (strlen(s) != json_string_length(v)) {
            *code = "invalid";
            *msg = "must not contain NUL characters";
            return 1;
        }
        if (f->type == IT_JT_UUID) {
            if (!it_is_uuid(s)) {
                *code = "format";
                *msg = "must be a UUID";
                return 1;
            }
            return 0;
        }
        if (f->type == IT_JT_ENUM) {
            const char *const *e;
            const char *list = NULL;
            for (e = f->values; *e; e++) {
                if (!strcmp(*e, s)) {
                    return 0;
                }
                list = list ? apr_pstrcat(pool, list, ", ", *e, NULL) : *e;
            }
            *code = "enum";
            *msg = apr_pstrcat(pool, "must be one of: ", list, NULL);
            return 1;
        }
        len = it_utf8_len(s);
        if (f->min && len < (size_t)f->min) {
            *code = "too_short";
            *msg = apr_psprintf(pool, "must be at least %" APR_INT64_T_FMT " character%s long",
                                (apr_int64_t)f->min, f->min == 1 ? "" : "s");
            return 1;
        }
        if (f->max && len > (size_t)f->max) {
            *code = "too_long";
            *msg = apr_psprintf(pool, "must be at most %" APR_INT64_T_FMT " characters long",
                                (apr_int64_t)f->max);
            return 1;
        }
        if (f->type == IT_JT_EMAIL && (*msg = it_email_check(s))) {
            *code = "format";
            return 1;
        }
        if (f->check && (*msg = f->check(s))) {
            *code = "format";
            return 1;
        }
        return 0;
    }
    case IT_JT_INT: {
        json_int_t i;
        if (!json_is_integer(v)) {
            break;
        }
        i = json_integer_value(v);
        /* max 0 means no upper bound, as for strings */
        if ((f->min || f->max) && (i < f->min || (f->max && i > f->max))) {
            *code = "range";
            *msg = apr_psprintf(pool, "must be between %" APR_INT64_T_FMT " and %" APR_INT64_T_FMT "",
                                (apr_int64_t)f->min, (apr_int64_t)f->max);
            return 1;
        }
        return 0;
    }
    case IT_JT_BOOL:
        if (!json_is_boolean(v)) {
            break;
        }
        return 0;
    case IT_JT_OBJECT:
        if (!json_is_object(v)) {
            break;
        }
        return 0;
    case IT_JT_UUID_ARRAY: {
        size_t i, j, n;
        if (!json_is_array(v)) {
            break;
        }
        n = json_array_size(v);
        if ((f->min && n < (size_t)f->min) || (f->max && n > (size_t)f->max)) {
            *code = "range";
            *msg = apr_psprintf(pool, "must have between %" APR_INT64_T_FMT " and %" APR_INT64_T_FMT " items",
                                (apr_int64_t)f->min, (apr_int64_t)f->max);
            return 1;
        }
        for (i = 0; i < n; i++) {
            json_t *e = json_array_get(v, i);
            if (!json_is_string(e) || !it_is_uuid(json_string_value(e))) {
                *code = "format";
                *msg = apr_psprintf(pool, "item %lu must be a UUID",
                                    (unsigned long)i);
                return 1;
            }
            for (j = 0; j < i; j++) {
                if (!strcasecmp(json_string_value(json_array_get(v, j)),
                                json_string_value(e))) {
                    *code = "duplicate";
                    *msg = apr_psprintf(pool, "item %lu repeats item %lu",
                                        (unsigned long)i, (unsigned long)j);
                    return 1;
                }
            }
        }
        return 0;
    }
    }
    *code = "type";
    *msg = apr_pstrcat(pool, "must be ", it_json_type_name(f->type), NULL);
    return 1;
}

int it_json_validate(json_t *obj, const it_field_t *spec, json_t **errors)
{
    const char *key;
    json_t *v;
    const it_field_t *f;
    int n = 0;
    apr_pool_t *pool;

    apr_pool_create(&pool, NULL);
    json_object_foreach(obj, key, v) {
        for (f = spec; f->name; f++) {
            if (!strcmp(f->name, key)) {
                break;
            }
        }
        if (!f->name) {
            *errors = it_problem_error_add(*errors, key, "unknown_field",
                                           "is not a known field");
            n++;
        }
    }
    for (f = spec; f->name; f++) {
        const char *code = NULL, *msg = NULL;
        v = json_object_get(obj, f->name);
        if (!v) {
            if (f->flags & IT_F_REQUIRED) {
                *errors = it_problem_error_add(*errors, f->name, "required",
                                               "is required");
                n++;
            }
            continue;
        }
        if (it_field_check(f, v, &code, &msg, pool)) {
            *errors = it_problem_error_add(*errors, f->name, code, msg);
            n++;
        }
    }
    apr_pool_destroy(pool);
    return n;
}

int it_json_body(it_req_t *req, it_resp_t *resp, const it_field_t *spec,
                 json_t **out)
{
    json_error_t jerr;
    json_t *doc;
    json_t *errors = NULL;
    apr_size_t limit = IT_JSON_BODY_MAX_DEFAULT;
    int rc;

    *out = NULL;
    if (req->cfg && req->cfg->max_body_size > 0) {
        limit = (apr_size_t)req->cfg->max_body_size;
    }
    if (!it_json_is_json_ctype(req->content_type)) {
        return it_problem(resp, 415, "unsupported_media_type",
                          "The request body must be application/json, not %s",
                          req->content_type ? req->content_type : "absent");
    }
    if (req->content_length > 0 && (apr_size_t)req->content_length > limit) {
        return it_problem(resp, 413, "payload_too_large",
                          "The request body is larger than %lu bytes",
                          (unsigned long)limit);
    }
    if (!req->body && req->read_body
        && (rc = req->read_body(req, limit)) != 0) {
        return it_problem(resp, rc, NULL, rc == 413
                          ? "The request body is too large" : NULL);
    }
    if (!req->body || req->body_len == 0) {
        return it_problem(resp, 400, "malformed_json",
                          "The request body is empty; a JSON object is required");
    }
    if (!it_utf8_valid(req->body, req->body_len)) {
        return it_problem(resp, 400, "invalid_utf8",
                          "The request body is not valid UTF-8");
    }
    doc = json_loadb(req->body, req->body_len,
                     JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!doc) {
        return it_problem(resp, 400, "malformed_json",
                          "Malformed JSON at line %d, column %d: %s",
                          jerr.line, jerr.column, jerr.text);
    }
    it_json_pool_own(req->pool, doc);
    if (!json_is_object(doc)) {
        errors = it_problem_error_add(NULL, "", "type",
                                      "the body must be a JSON object");
        return it_problem_validation(resp, errors);
    }
    if (it_json_validate(doc, spec, &errors) > 0) {
        return it_problem_validation(resp, errors);
    }
    req->json = doc;
    *out = doc;
    return 0;
}

/* PostgreSQL's json_build_object() writes {"a" : 1, "b" : 2}; clients get
 * the compact form. Drops whitespace outside strings; one pass, a copy. */
const char *it_json_compact(apr_pool_t *pool, const char *s)
{
    char *out, *o;
    int in_str = 0;

    if (!s) {
        return NULL;
    }
    out = apr_palloc(pool, strlen(s) + 1);
    for (o = out; *s; s++) {
        if (in_str) {
            *o++ = *s;
            if (*s == '\\' && s[1]) {
                *o++ = *++s;
            }
            else if (*s == '"') {
                in_str = 0;
            }
        }
        else if (*s == '"') {
            in_str = 1;
            *o++ = *s;
        }
        else if (*s != ' ' && *s != '\n' && *s != '\t' && *s != '\r') {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}
