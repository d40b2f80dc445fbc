/*
 * test_json.c -- UTF-8 checks, JSON content types, field-spec validation and
 * it_json_body on requests whose body is preset (no httpd).
 */
#include <stdlib.h>

#include "it_test.h"
#include "it_json.h"
#include "it_config.h"

#define U1 "0f8fad5b-d9cb-469f-a165-70867728950e"
#define U2 "7c9e6679-7425-40de-944b-e07fc1f90ae7"
#define U3 "16fd2706-8baf-433b-82eb-8c7fada847da"
#define U4 "886313e1-3b8a-4372-9b90-0c9aee199e5d"
#define U1_UPPER "0F8FAD5B-D9CB-469F-A165-70867728950E"

/* ---- it_utf8_valid / it_utf8_len ----------------------------------------- */

typedef struct {
    const char *name;
    const char *buf;
    size_t len;                   /* 0: strlen(buf) */
    int valid;
} it_utf8_case_t;

static const it_utf8_case_t utf8_cases[] = {
    { "empty", "", 0, 1 },
    { "ascii", "hello, world", 0, 1 },
    { "2-byte e-acute", "caf\xc3\xa9", 0, 1 },
    { "2-byte lowest U+0080", "\xc2\x80", 0, 1 },
    { "3-byte euro", "\xe2\x82\xac", 0, 1 },
    { "3-byte lowest U+0800", "\xe0\xa0\x80", 0, 1 },
    { "3-byte U+D7FF below surrogates", "\xed\x9f\xbf", 0, 1 },
    { "3-byte U+E000 above surrogates", "\xee\x80\x80", 0, 1 },
    { "3-byte U+FFFF", "\xef\xbf\xbf", 0, 1 },
    { "4-byte emoji U+1F600", "\xf0\x9f\x98\x80", 0, 1 },
    { "4-byte lowest U+10000", "\xf0\x90\x80\x80", 0, 1 },
    { "4-byte highest U+10FFFF", "\xf4\x8f\xbf\xbf", 0, 1 },
    { "embedded NUL is valid UTF-8", "a\0b", 3, 1 },
    { "overlong 2-byte slash C0 AF", "\xc0\xaf", 0, 0 },
    { "overlong 2-byte C1 BF", "\xc1\xbf", 0, 0 },
    { "overlong 3-byte E0 80 AF", "\xe0\x80\xaf", 0, 0 },
    { "overlong 3-byte U+07FF", "\xe0\x9f\xbf", 0, 0 },
    { "overlong 4-byte F0 80 80 AF", "\xf0\x80\x80\xaf", 0, 0 },
    { "overlong 4-byte U+FFFF", "\xf0\x8f\xbf\xbf", 0, 0 },
    { "high surrogate U+D800", "\xed\xa0\x80", 0, 0 },
    { "low surrogate U+DFFF", "\xed\xbf\xbf", 0, 0 },
    { "CESU-8 surrogate pair", "\xed\xa0\xbd\xed\xb8\x80", 0, 0 },
    { "above U+10FFFF (F4 90)", "\xf4\x90\x80\x80", 0, 0 },
    { "F5 lead byte", "\xf5\x80\x80\x80", 0, 0 },
    { "FF byte", "\xff", 0, 0 },
    { "FE byte", "a\xfe" "b", 0, 0 },
    { "lone continuation byte", "\x80", 0, 0 },
    { "continuation after ascii", "ab\xbf", 0, 0 },
    { "truncated 2-byte at end", "ab\xc3", 0, 0 },
    { "truncated 3-byte at end", "\xe2\x82", 0, 0 },
    { "truncated 4-byte at end", "\xf0\x9f\x98", 0, 0 },
    { "truncated 2-byte before ascii", "\xc3" "a", 0, 0 },
    { "truncated 3-byte before ascii", "\xe2\x82" "a", 0, 0 },
    { "4-byte cut by len", "\xf0\x9f\x98\x80", 3, 0 },
    { "5-byte form F8", "\xf8\x88\x80\x80\x80", 0, 0 },
};

static void test_utf8_valid_table(void **state)
{
    size_t i;
    int bad = 0;

    (void)state;
    for (i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++) {
        const it_utf8_case_t *c = &utf8_cases[i];
        size_t len = c->len ? c->len : strlen(c->buf);
        int got = it_utf8_valid(c->buf, len);
        IT_CHECK(bad, got == c->valid, "%s: it_utf8_valid = %d, want %d",
                 c->name, got, c->valid);
    }
    IT_CHECK_DONE(bad);
}

/* Only the first len bytes count: bytes after them are never read. */
static void test_utf8_valid_respects_len(void **state)
{
    (void)state;
    assert_true(it_utf8_valid("ok\xff", 2));
    assert_true(it_utf8_valid(NULL, 0));
}

typedef struct {
    const char *s;
    size_t chars;
} it_len_case_t;

static const it_len_case_t len_cases[] = {
    { "", 0 },
    { "abc", 3 },
    { "caf\xc3\xa9", 4 },
    { "\xe2\x82\xac" "1", 2 },
    { "\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 2 },
    { "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 4 },
};

static void test_utf8_len_table(void **state)
{
    size_t i;
    int bad = 0;

    (void)state;
    for (i = 0; i < sizeof(len_cases) / sizeof(len_cases[0]); i++) {
        size_t got = it_utf8_len(len_cases[i].s);
        IT_CHECK(bad, got == len_cases[i].chars, "it_utf8_len(row %zu) = %zu, "
                 "want %zu", i, got, len_cases[i].chars);
    }
    IT_CHECK_DONE(bad);
}

/* ---- it_json_compact ------------------------------------------------------- */

static const struct { const char *in, *want; } compact_cases[] = {
    { "{\"id\" : 1, \"k\" : [1, 2]}", "{\"id\":1,\"k\":[1,2]}" },
    { "{\"s\" : \"a b\\\" c : d\"}", "{\"s\":\"a b\\\" c : d\"}" },
    { "{\"s\" : \"tail\\\\\", \"t\" : \" x \"}", "{\"s\":\"tail\\\\\",\"t\":\" x \"}" },
    { "\n[ ]\t", "[]" },
    { "", "" },
};

static void test_json_compact_table(void **state)
{
    apr_pool_t *p = *state;
    size_t i;
    int bad = 0;

    for (i = 0; i < sizeof(compact_cases) / sizeof(compact_cases[0]); i++) {
        const char *got = it_json_compact(p, compact_cases[i].in);
        IT_CHECK(bad, !strcmp(got, compact_cases[i].want),
                 "it_json_compact(row %zu) = %s, want %s", i, got,
                 compact_cases[i].want);
    }
    assert_null(it_json_compact(p, NULL));
    IT_CHECK_DONE(bad);
}

/* ---- it_json_is_json_ctype ----------------------------------------------- */

typedef struct {
    const char *ctype;
    int want;
} it_ctype_case_t;

static const it_ctype_case_t ctype_cases[] = {
    { "application/json", 1 },
    { "application/json; charset=utf-8", 1 },
    { "application/json;charset=UTF-8", 1 },
    { "application/json ; charset=utf-8", 1 },
    { " application/json", 1 },
    { "APPLICATION/JSON", 1 },
    { "Application/Json", 1 },
    { "application/merge-patch+json", 1 },
    { "application/problem+json", 1 },
    { "application/vnd.api+json; charset=utf-8", 1 },
    { "text/json", 0 },
    { "application/jsonx", 0 },
    { "application/json-seq", 0 },
    { "application/+json", 0 },
    { "application/xml", 0 },
    { "text/plain", 0 },
    { "multipart/form-data; boundary=x", 0 },
    { "image/svg+json", 0 },
    { "json", 0 },
    { "", 0 },
    { " ", 0 },
    { ";", 0 },
    { NULL, 0 },
};

static void test_json_ctype_table(void **state)
{
    size_t i;
    int bad = 0;

    (void)state;
    for (i = 0; i < sizeof(ctype_cases) / sizeof(ctype_cases[0]); i++) {
        int got = it_json_is_json_ctype(ctype_cases[i].ctype);
        IT_CHECK(bad, got == ctype_cases[i].want,
                 "it_json_is_json_ctype(\"%s\") = %d, want %d",
                 IT_S(ctype_cases[i].ctype), got, ctype_cases[i].want);
    }
    IT_CHECK_DONE(bad);
}

/* ---- it_json_validate ---------------------------------------------------- */

static const char *const priorities[] = { "low", "medium", "high", "critical",
                                          NULL };

static const char *check_no_space(const char *v)
{
    return strchr(v, ' ') ? "must not contain spaces" : NULL;
}

/* One field per type and flag; "title" is required so each case below
 * carries a valid title unless the case is about it. */
static const it_field_t spec[] = {
    { "title",       IT_JT_STRING,     IT_F_REQUIRED, 1, 5, NULL, NULL },
    { "description", IT_JT_STRING,     IT_F_NULLABLE, 0, 0, NULL, NULL },
    { "code",        IT_JT_STRING,     0,             3, 0, NULL, NULL },
    { "slug",        IT_JT_STRING,     0,             0, 0, NULL, check_no_space },
    { "priority",    IT_JT_ENUM,       0,             0, 0, priorities, NULL },
    { "size",        IT_JT_INT,        0,             1, 100, NULL, NULL },
    { "count",       IT_JT_INT,        0,             0, 0, NULL, NULL },
    { "delta",       IT_JT_INT,        IT_F_NULLABLE, -10, -1, NULL, NULL },
    { "is_active",   IT_JT_BOOL,       0,             0, 0, NULL, NULL },
    { "owner_id",    IT_JT_UUID,       IT_F_NULLABLE, 0, 0, NULL, NULL },
    { "project_id",  IT_JT_UUID,       0,             0, 0, NULL, NULL },
    { "label_ids",   IT_JT_UUID_ARRAY, 0,             1, 3, NULL, NULL },
    { "watchers",    IT_JT_UUID_ARRAY, 0,             0, 0, NULL, NULL },
    { "email",       IT_JT_EMAIL,      0,             0, 20, NULL, NULL },
    { "meta",        IT_JT_OBJECT,     0,             0, 0, NULL, NULL },
    { NULL, 0, 0, 0, 0, NULL, NULL }
};

typedef struct {
    const char *name;
    const char *json;
    int nerrors;
    const char *field;            /* the (only) error's field */
    const char *code;
    const char *message;          /* a substring of its message; NULL: any */
} it_validate_case_t;

#define T "\"title\":\"ok\""

static const it_validate_case_t validate_cases[] = {
    /* valid documents */
    { "minimal", "{" T "}", 0, NULL, NULL, NULL },
    { "every field valid", "{" T ",\"description\":\"d\",\"code\":\"abc\","
      "\"slug\":\"a-b\",\"priority\":\"high\",\"size\":100,\"count\":-7,"
      "\"delta\":-1,\"is_active\":false,\"owner_id\":\"" U1 "\","
      "\"project_id\":\"" U1_UPPER "\",\"label_ids\":[\"" U1 "\",\"" U2 "\"],"
      "\"watchers\":[],\"email\":\"a.b@example.org\",\"meta\":{\"x\":[1]}}",
      0, NULL, NULL, NULL },

    /* unknown and missing fields */
    { "unknown field", "{" T ",\"bogus\":1}", 1, "bogus", "unknown_field",
      "is not a known field" },
    { "unknown field named like a known one", "{" T ",\"Title\":\"x\"}", 1,
      "Title", "unknown_field", NULL },
    { "missing required", "{}", 1, "title", "required", "is required" },
    { "missing optional fields are fine", "{" T "}", 0, NULL, NULL, NULL },

    /* null */
    { "null on non-nullable required", "{\"title\":null}", 1, "title", "null",
      "must not be null" },
    { "null on non-nullable optional", "{" T ",\"project_id\":null}", 1,
      "project_id", "null", "must not be null" },
    { "null on nullable string", "{" T ",\"description\":null}", 0,
      NULL, NULL, NULL },
    { "null on nullable uuid", "{" T ",\"owner_id\":null}", 0, NULL, NULL,
      NULL },
    { "null on nullable int", "{" T ",\"delta\":null}", 0, NULL, NULL, NULL },

    /* wrong types */
    { "number for string", "{\"title\":5}", 1, "title", "type",
      "must be a string" },
    { "array for string", "{\"title\":[\"ok\"]}", 1, "title", "type",
      "must be a string" },
    { "number for enum", "{" T ",\"priority\":1}", 1, "priority", "type",
      "must be a string" },
    { "bool for email", "{" T ",\"email\":true}", 1, "email", "type",
      "must be a string" },
    { "string for int", "{" T ",\"size\":\"5\"}", 1, "size", "type",
      "must be an integer" },
    { "real for int", "{" T ",\"size\":5.0}", 1, "size", "type",
      "must be an integer" },
    { "bool for int", "{" T ",\"size\":true}", 1, "size", "type",
      "must be an integer" },
    { "string for bool", "{" T ",\"is_active\":\"true\"}", 1, "is_active",
      "type", "must be a boolean" },
    { "int for bool", "{" T ",\"is_active\":1}", 1, "is_active", "type",
      "must be a boolean" },
    { "number for uuid", "{" T ",\"project_id\":5}", 1, "project_id", "type",
      "must be a UUID string" },
    { "string for uuid array", "{" T ",\"label_ids\":\"" U1 "\"}", 1,
      "label_ids", "type", "must be an array of UUIDs" },
    { "array for object", "{" T ",\"meta\":[]}", 1, "meta", "type",
      "must be an object" },
    { "string for object", "{" T ",\"meta\":\"{}\"}", 1, "meta", "type",
      "must be an object" },

    /* string lengths, in code points */
    { "empty below min 1", "{\"title\":\"\"}", 1, "title", "too_short",
      "at least 1 character long" },
    { "at max", "{\"title\":\"abcde\"}", 0, NULL, NULL, NULL },
    { "above max", "{\"title\":\"abcdef\"}", 1, "title", "too_long",
      "at most 5 characters" },
    { "5 two-byte chars (10 bytes) fit max 5",
      "{\"title\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}", 0,
      NULL, NULL, NULL },
    { "5 four-byte chars (20 bytes) fit max 5",
      "{\"title\":\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
      "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"}", 0, NULL, NULL, NULL },
    { "6 two-byte chars exceed max 5",
      "{\"title\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}", 1,
      "title", "too_long", NULL },
    { "escaped chars count once", "{\"title\":\"\\u00e9\\u00e9\\u00e9"
      "\\u00e9\\u00e9\"}", 0, NULL, NULL, NULL },
    { "2 two-byte chars (4 bytes) below min 3",
      "{" T ",\"code\":\"\xc3\xa9\xc3\xa9\"}", 1, "code", "too_short",
      "at least 3 characters long" },
    { "min without max", "{" T ",\"code\":\"abcdefghijklmnopqrstuvwxyz\"}", 0,
      NULL, NULL, NULL },
    { "NUL inside a string", "{\"title\":\"a\\u0000b\"}", 1, "title",
      "invalid", "NUL" },

    /* enum */
    { "enum value", "{" T ",\"priority\":\"critical\"}", 0, NULL, NULL, NULL },
    { "enum unknown value lists values", "{" T ",\"priority\":\"urgent\"}", 1,
      "priority", "enum", "must be one of: low, medium, high, critical" },
    { "enum is case sensitive", "{" T ",\"priority\":\"LOW\"}", 1,
      "priority", "enum", NULL },
    { "enum empty string", "{" T ",\"priority\":\"\"}", 1, "priority", "enum",
      NULL },

    /* integer range */
    { "int at min", "{" T ",\"size\":1}", 0, NULL, NULL, NULL },
    { "int at max", "{" T ",\"size\":100}", 0, NULL, NULL, NULL },
    { "int below min", "{" T ",\"size\":0}", 1, "size", "range",
      "must be between 1 and 100" },
    { "int above max", "{" T ",\"size\":101}", 1, "size", "range",
      "must be between 1 and 100" },
    { "int negative", "{" T ",\"size\":-5}", 1, "size", "range", NULL },
    { "int huge", "{" T ",\"size\":9223372036854775807}", 1, "size", "range",
      NULL },
    { "negative range in range", "{" T ",\"delta\":-10}", 0, NULL, NULL, NULL },
    { "negative range above max", "{" T ",\"delta\":0}", 1, "delta", "range",
      "must be between -10 and -1" },
    { "unbounded int", "{" T ",\"count\":-99999999999}", 0, NULL, NULL, NULL },

    /* UUID */
    { "uuid malformed", "{" T ",\"project_id\":\"nope\"}", 1, "project_id",
      "format", "must be a UUID" },
    { "uuid with braces", "{" T ",\"project_id\":\"{" U1 "}\"}", 1,
      "project_id", "format", NULL },
    { "uuid empty", "{" T ",\"project_id\":\"\"}", 1, "project_id", "format",
      NULL },

    /* UUID array */
    { "uuid array at max items", "{" T ",\"label_ids\":[\"" U1 "\",\"" U2
      "\",\"" U3 "\"]}", 0, NULL, NULL, NULL },
    { "uuid array below min items", "{" T ",\"label_ids\":[]}", 1,
      "label_ids", "range", "between 1 and 3 items" },
    { "uuid array above max items", "{" T ",\"label_ids\":[\"" U1 "\",\"" U2
      "\",\"" U3 "\",\"" U4 "\"]}", 1, "label_ids", "range", NULL },
    { "uuid array duplicate", "{" T ",\"label_ids\":[\"" U1 "\",\"" U1 "\"]}",
      1, "label_ids", "duplicate", "item 1 repeats item 0" },
    { "uuid array duplicate differing in case", "{" T ",\"label_ids\":[\""
      U1 "\",\"" U2 "\",\"" U1_UPPER "\"]}", 1, "label_ids", "duplicate",
      "item 2 repeats item 0" },
    { "uuid array non-uuid string", "{" T ",\"label_ids\":[\"" U1
      "\",\"x\"]}", 1, "label_ids", "format", "item 1 must be a UUID" },
    { "uuid array number item", "{" T ",\"label_ids\":[5]}", 1, "label_ids",
      "format", "item 0 must be a UUID" },
    { "uuid array null item", "{" T ",\"label_ids\":[null]}", 1, "label_ids",
      "format", NULL },
    { "uuid array unbounded, empty", "{" T ",\"watchers\":[]}", 0, NULL, NULL,
      NULL },

    /* email */
    { "email ok", "{" T ",\"email\":\"a@b.co\"}", 0, NULL, NULL, NULL },
    { "email without @", "{" T ",\"email\":\"ab.co\"}", 1, "email", "format",
      "must be an email address" },
    { "email without domain dot", "{" T ",\"email\":\"a@b\"}", 1, "email",
      "format", NULL },
    { "email without local part", "{" T ",\"email\":\"@b.co\"}", 1, "email",
      "format", NULL },
    { "email with two @", "{" T ",\"email\":\"a@b@c.co\"}", 1, "email",
      "format", NULL },
    { "email with dot after @", "{" T ",\"email\":\"a@.co\"}", 1, "email",
      "format", NULL },
    { "email ending in dot", "{" T ",\"email\":\"a@b.\"}", 1, "email",
      "format", NULL },
    { "email with space", "{" T ",\"email\":\"a b@c.co\"}", 1, "email",
      "format", NULL },
    { "email with newline", "{" T ",\"email\":\"a@b.co\\n\"}", 1, "email",
      "format", NULL },
    { "email with angle brackets", "{" T ",\"email\":\"<a@b.co>\"}", 1,
      "email", "format", NULL },
    { "email too long (max 20)", "{" T ",\"email\":\"abcdefghij@abcdef.org\"}",
      1, "email", "too_long", "at most 20" },

    /* custom check hook */
    { "check hook passes", "{" T ",\"slug\":\"a-b\"}", 0, NULL, NULL, NULL },
    { "check hook message", "{" T ",\"slug\":\"a b\"}", 1, "slug", "format",
      "must not contain spaces" },
};

static void test_validate_table(void **state)
{
    size_t i;
    int bad = 0;

    (void)state;
    for (i = 0; i < sizeof(validate_cases) / sizeof(validate_cases[0]); i++) {
        const it_validate_case_t *c = &validate_cases[i];
        json_error_t jerr;
        json_t *obj = json_loads(c->json, JSON_ALLOW_NUL, &jerr);
        json_t *errors = NULL;
        int n;

        IT_CHECK(bad, obj != NULL, "%s: test JSON does not parse: %s", c->name,
                 jerr.text);
        if (!obj) {
            continue;
        }
        n = it_json_validate(obj, spec, &errors);
        IT_CHECK(bad, n == c->nerrors, "%s: %d errors, want %d", c->name, n,
                 c->nerrors);
        IT_CHECK(bad, (size_t)n == json_array_size(errors),
                 "%s: returned %d but the array has %zu", c->name, n,
                 json_array_size(errors));
        if (n == 1 && c->nerrors == 1) {
            json_t *e = json_array_get(errors, 0);
            const char *msg = it_test_jstr(e, "message");
            IT_CHECK(bad, it_test_streq(it_test_jstr(e, "field"), c->field),
                     "%s: field %s, want %s", c->name,
                     IT_S(it_test_jstr(e, "field")), c->field);
            IT_CHECK(bad, it_test_streq(it_test_jstr(e, "code"), c->code),
                     "%s: code %s, want %s", c->name,
                     IT_S(it_test_jstr(e, "code")), c->code);
            IT_CHECK(bad, it_test_contains(msg, c->message),
                     "%s: message \"%s\" lacks \"%s\"", c->name, IT_S(msg),
                     c->message);
        }
        else if (n > 0) {
            char *dump = json_dumps(errors, JSON_COMPACT);
            print_error("  %s: errors %s\n", c->name, IT_S(dump));
            free(dump);
        }
        json_decref(errors);
        json_decref(obj);
    }
    IT_CHECK_DONE(bad);
}

/* All problems of a body are reported at once, one item per field. */
static void test_validate_reports_all_errors(void **state)
{
    json_t *obj = json_pack("{s:i, s:s, s:i, s:s, s:[s,s]}",
                            "bogus", 1, "priority", "urgent", "size", 0,
                            "project_id", "nope", "label_ids", U1, U1);
    json_t *errors = NULL;
    static const struct { const char *field, *code; } want[] = {
        { "bogus", "unknown_field" },
        { "title", "required" },
        { "priority", "enum" },
        { "size", "range" },
        { "project_id", "format" },
        { "label_ids", "duplicate" },
    };
    size_t i;

    (void)state;
    assert_non_null(obj);
    assert_int_equal(it_json_validate(obj, spec, &errors), 6);
    assert_int_equal(json_array_size(errors), 6);
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        json_t *e = it_test_error_for(errors, want[i].field);
        if (!e) {
            fail_msg("no error for field %s", want[i].field);
        }
        it_assert_jstr(e, "code", want[i].code);
        assert_int_equal(json_object_size(e), 3);
    }
    json_decref(errors);
    json_decref(obj);
}

/* Errors are appended to an existing array (query + body checks). */
static void test_validate_appends(void **state)
{
    json_t *obj = json_pack("{s:i}", "title", 1);
    json_t *errors = it_problem_error_add(NULL, "page", "range", "must be > 0");
    json_t *before = errors;

    (void)state;
    assert_int_equal(it_json_validate(obj, spec, &errors), 1);
    assert_ptr_equal(errors, before);
    assert_int_equal(json_array_size(errors), 2);
    it_assert_jstr(json_array_get(errors, 0), "field", "page");
    it_assert_jstr(json_array_get(errors, 1), "field", "title");
    json_decref(errors);
    json_decref(obj);
}

/* No errors: the array is not created. */
static void test_validate_ok_leaves_errors_null(void **state)
{
    json_t *obj = json_pack("{s:s}", "title", "ok");
    json_t *errors = NULL;

    (void)state;
    assert_int_equal(it_json_validate(obj, spec, &errors), 0);
    assert_null(errors);
    json_decref(obj);
}

/* ---- it_json_body -------------------------------------------------------- */

static const it_field_t body_spec[] = {
    { "title", IT_JT_STRING, IT_F_REQUIRED, 1, 200, NULL, NULL },
    { "size",  IT_JT_INT,    0,             1, 100, NULL, NULL },
    { NULL, 0, 0, 0, 0, NULL, NULL }
};

typedef struct {
    const char *name;
    const char *ctype;
    apr_off_t content_length;     /* 0: strlen(body) (or -1 without body) */
    long long limit;              /* IssueTrackerMaxBodySize; 0: no cfg */
    const char *body;
    size_t body_len;              /* 0: strlen(body) */
    int status;                   /* 0: success */
    const char *code;
    int nerrors;                  /* 422: errors items */
    const char *error_code;       /* 422: code of errors[0] */
} it_body_case_t;

#define JS "application/json"

static const it_body_case_t body_cases[] = {
    { .name = "success", .ctype = JS, .body = "{\"title\":\"ok\"}" },
    { .name = "success, charset parameter",
      .ctype = "application/json; charset=utf-8",
      .body = "{\"title\":\"ok\",\"size\":3}" },
    { .name = "success, merge-patch", .ctype = "application/merge-patch+json",
      .body = "{\"title\":\"ok\"}" },
    { .name = "success, whitespace around",
      .ctype = JS, .body = " \n{\"title\":\"ok\"}\n " },
    { .name = "success, unknown length (chunked)", .ctype = JS,
      .content_length = -1, .body = "{\"title\":\"ok\"}" },
    { .name = "success at the limit", .ctype = JS, .limit = 14,
      .body = "{\"title\":\"ok\"}" },
    { .name = "text/plain", .ctype = "text/plain", .body = "{\"title\":\"ok\"}",
      .status = 415, .code = "unsupported_media_type" },
    { .name = "text/json", .ctype = "text/json", .body = "{\"title\":\"ok\"}",
      .status = 415, .code = "unsupported_media_type" },
    { .name = "form", .ctype = "application/x-www-form-urlencoded",
      .body = "title=ok", .status = 415, .code = "unsupported_media_type" },
    { .name = "no content type", .ctype = NULL, .body = "{\"title\":\"ok\"}",
      .status = 415, .code = "unsupported_media_type" },
    { .name = "415 before 413", .ctype = "text/plain", .limit = 4,
      .body = "{\"title\":\"ok\"}", .status = 415,
      .code = "unsupported_media_type" },
    { .name = "content length above the configured limit", .ctype = JS,
      .limit = 13, .body = "{\"title\":\"ok\"}", .status = 413,
      .code = "payload_too_large" },
    { .name = "content length above the default limit", .ctype = JS,
      .content_length = IT_JSON_BODY_MAX_DEFAULT + 1,
      .body = "{\"title\":\"ok\"}", .status = 413, .code = "payload_too_large" },
    { .name = "no body", .ctype = JS, .body = NULL, .status = 400,
      .code = "malformed_json" },
    { .name = "empty body", .ctype = JS, .body = "", .status = 400,
      .code = "malformed_json" },
    { .name = "whitespace only", .ctype = JS, .body = "  \n", .status = 400,
      .code = "malformed_json" },
    { .name = "invalid UTF-8 byte", .ctype = JS,
      .body = "{\"title\":\"\xff\"}", .status = 400, .code = "invalid_utf8" },
    { .name = "overlong UTF-8", .ctype = JS,
      .body = "{\"title\":\"\xc0\xaf\"}", .status = 400, .code = "invalid_utf8" },
    { .name = "UTF-8 surrogate", .ctype = JS,
      .body = "{\"title\":\"\xed\xa0\x80\"}", .status = 400,
      .code = "invalid_utf8" },
    { .name = "truncated JSON", .ctype = JS, .body = "{\"title\":",
      .status = 400, .code = "malformed_json" },
    { .name = "trailing garbage", .ctype = JS,
      .body = "{\"title\":\"ok\"} x", .status = 400, .code = "malformed_json" },
    { .name = "two documents", .ctype = JS,
      .body = "{\"title\":\"ok\"}{}", .status = 400, .code = "malformed_json" },
    { .name = "single quotes", .ctype = JS, .body = "{'title':'ok'}",
      .status = 400, .code = "malformed_json" },
    { .name = "trailing comma", .ctype = JS, .body = "{\"title\":\"ok\",}",
      .status = 400, .code = "malformed_json" },
    { .name = "NUL byte inside", .ctype = JS,
      .body = "{\"title\":\"o\0k\"}", .body_len = 15, .status = 400,
      .code = "malformed_json" },
    { .name = "escaped NUL", .ctype = JS,
      .body = "{\"title\":\"o\\u0000k\"}", .status = 400,
      .code = "malformed_json" },
    { .name = "duplicate keys", .ctype = JS,
      .body = "{\"title\":\"a\",\"title\":\"b\"}", .status = 400,
      .code = "malformed_json" },
    { .name = "array body", .ctype = JS, .body = "[{\"title\":\"ok\"}]",
      .status = 422, .code = "validation_failed", .nerrors = 1,
      .error_code = "type" },
    { .name = "empty object", .ctype = JS, .body = "{}", .status = 422,
      .code = "validation_failed", .nerrors = 1, .error_code = "required" },
    { .name = "several errors", .ctype = JS,
      .body = "{\"title\":5,\"size\":0,\"x\":1}", .status = 422,
      .code = "validation_failed", .nerrors = 3 },
};

static void it_body_req_setup(it_req_t *req, const it_body_case_t *c)
{
    req->content_type = c->ctype;
    req->body = c->body;
    req->body_len = c->body ? (c->body_len ? c->body_len : strlen(c->body)) : 0;
    req->content_length = c->content_length ? c->content_length
                        : (c->body ? (apr_off_t)req->body_len : -1);
    if (c->limit) {
        it_config_t *cfg = apr_pcalloc(req->pool, sizeof(*cfg));
        cfg->max_body_size = c->limit;
        req->cfg = cfg;
    }
}

static void test_json_body_table(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    size_t i;
    int bad = 0;

    for (i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
        const it_body_case_t *c = &body_cases[i];
        it_req_t *req = it_test_req(pool, "POST", "/api/v1/things");
        it_resp_t *resp = it_test_resp(pool);
        json_t *out = (json_t *)&out;       /* must be reset */
        int rc;

        it_body_req_setup(req, c);
        rc = it_json_body(req, resp, body_spec, &out);
        IT_CHECK(bad, rc == c->status, "%s: returned %d, want %d (detail: %s)",
                 c->name, rc, c->status,
                 IT_S(it_test_jstr(resp->json, "detail")));
        if (rc != c->status) {
            continue;
        }
        if (c->status == 0) {
            IT_CHECK(bad, out && json_is_object(out), "%s: no object", c->name);
            IT_CHECK(bad, req->json == out, "%s: req->json not set", c->name);
            IT_CHECK(bad, it_test_streq(it_test_jstr(out, "title"), "ok"),
                     "%s: title not parsed", c->name);
            continue;
        }
        IT_CHECK(bad, out == NULL, "%s: *out set on failure", c->name);
        IT_CHECK(bad, req->json == NULL, "%s: req->json set on failure",
                 c->name);
        IT_CHECK(bad, resp->status == c->status, "%s: resp status %d",
                 c->name, resp->status);
        IT_CHECK(bad, it_test_streq(resp->content_type, IT_PROBLEM_CTYPE),
                 "%s: content type %s", c->name, IT_S(resp->content_type));
        IT_CHECK(bad, it_test_streq(it_test_jstr(resp->json, "code"), c->code),
                 "%s: code %s, want %s", c->name,
                 IT_S(it_test_jstr(resp->json, "code")), c->code);
        IT_CHECK(bad, it_test_jstr(resp->json, "detail") != NULL,
                 "%s: no detail", c->name);
        if (c->status == 422) {
            json_t *errors = json_object_get(resp->json, "errors");
            IT_CHECK(bad, json_array_size(errors) == (size_t)c->nerrors,
                     "%s: %zu errors, want %d", c->name,
                     json_array_size(errors), c->nerrors);
            if (c->error_code) {
                IT_CHECK(bad, it_test_streq(it_test_jstr(json_array_get(
                         errors, 0), "code"), c->error_code),
                         "%s: errors[0].code %s, want %s", c->name,
                         IT_S(it_test_jstr(json_array_get(errors, 0), "code")),
                         c->error_code);
            }
        }
    }
    IT_CHECK_DONE(bad);
}

/* RFC 8259 lets any value be a JSON text: a scalar body is well-formed JSON
 * that is not an object, so it is 422 like an array body, not 400
 * malformed_json. FAILS until it_json_body() parses with JSON_DECODE_ANY. */
static void test_json_body_scalar_is_422(void **state)
{
    static const char *const scalars[] = { "42", "\"title\"", "null", "true" };
    apr_pool_t *pool = IT_POOL(state);
    size_t i;
    int bad = 0;

    for (i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
        it_req_t *req = it_test_req(pool, "POST", "/api/v1/things");
        it_resp_t *resp = it_test_resp(pool);
        json_t *out;
        int rc;

        req->content_type = JS;
        req->body = scalars[i];
        req->body_len = strlen(scalars[i]);
        rc = it_json_body(req, resp, body_spec, &out);
        IT_CHECK(bad, rc == 422 && it_test_streq(it_test_jstr(resp->json, "code"),
                                                 "validation_failed"),
                 "body %s: %d %s, want 422 validation_failed", scalars[i], rc,
                 IT_S(it_test_jstr(resp->json, "code")));
    }
    IT_CHECK_DONE(bad);
}

/* The 415 detail quotes the Content-Type header, which may hold any bytes
 * (obs-text): the answer is still a complete problem document.
 * FAILS until the fallback in it_problem() keeps `type` and a `detail`
 * (same bug as test_problem_invalid_utf8_detail, reached from a client). */
static void test_json_body_415_non_utf8_ctype(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    it_req_t *req = it_test_req(pool, "POST", "/x");
    it_resp_t *resp = it_test_resp(pool);
    json_t *out;

    req->content_type = "text/plain; charset=\xff\xfe";
    req->body = "{}";
    req->body_len = 2;
    assert_int_equal(it_json_body(req, resp, body_spec, &out), 415);
    it_assert_problem(resp, 415, "unsupported_media_type");
}

/* ---- it_json_body with a body reader ------------------------------------- */

static apr_size_t seen_limit;
static int reader_calls;

static int reader_ok(it_req_t *req, apr_size_t limit)
{
    seen_limit = limit;
    reader_calls++;
    req->body = "{\"title\":\"read\"}";
    req->body_len = strlen(req->body);
    return 0;
}

static int reader_413(it_req_t *req, apr_size_t limit)
{
    (void)req;
    seen_limit = limit;
    reader_calls++;
    return 413;
}

static int reader_408(it_req_t *req, apr_size_t limit)
{
    (void)req;
    (void)limit;
    reader_calls++;
    return 408;
}

static void test_json_body_reads_with_limit(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    it_req_t *req = it_test_req(pool, "POST", "/x");
    it_resp_t *resp = it_test_resp(pool);
    it_config_t *cfg = apr_pcalloc(pool, sizeof(*cfg));
    json_t *out = NULL;

    cfg->max_body_size = 4096;
    req->cfg = cfg;
    req->content_type = JS;
    req->read_body = reader_ok;
    reader_calls = 0;
    assert_int_equal(it_json_body(req, resp, body_spec, &out), 0);
    assert_int_equal(reader_calls, 1);
    assert_int_equal(seen_limit, 4096);
    it_assert_jstr(out, "title", "read");

    /* without configuration: the default limit */
    req = it_test_req(pool, "POST", "/x");
    req->content_type = JS;
    req->read_body = reader_ok;
    assert_int_equal(it_json_body(req, it_test_resp(pool), body_spec, &out), 0);
    assert_int_equal(seen_limit, IT_JSON_BODY_MAX_DEFAULT);
}

/* A preset body is used as is: the reader is not called again. */
static void test_json_body_preset_not_reread(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    it_req_t *req = it_test_req(pool, "POST", "/x");
    json_t *out = NULL;

    req->content_type = JS;
    req->body = "{\"title\":\"preset\"}";
    req->body_len = strlen(req->body);
    req->read_body = reader_413;
    reader_calls = 0;
    assert_int_equal(it_json_body(req, it_test_resp(pool), body_spec, &out), 0);
    assert_int_equal(reader_calls, 0);
    it_assert_jstr(out, "title", "preset");
}

static void test_json_body_reader_failures(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    it_req_t *req = it_test_req(pool, "POST", "/x");
    it_resp_t *resp = it_test_resp(pool);
    json_t *out = NULL;

    req->content_type = JS;
    req->read_body = reader_413;
    assert_int_equal(it_json_body(req, resp, body_spec, &out), 413);
    it_assert_problem(resp, 413, "payload_too_large");
    assert_null(out);

    req = it_test_req(pool, "POST", "/x");
    resp = it_test_resp(pool);
    req->content_type = JS;
    req->read_body = reader_408;
    assert_int_equal(it_json_body(req, resp, body_spec, &out), 408);
    it_assert_problem(resp, 408, "request_timeout");
}

/* The parsed body belongs to the request pool (valgrind: no leak, and it
 * is still readable after the response is gone). */
static void test_json_body_owned_by_request_pool(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    apr_pool_t *resp_pool;
    it_req_t *req = it_test_req(pool, "POST", "/x");
    it_resp_t *resp;
    json_t *out = NULL;

    apr_pool_create(&resp_pool, pool);
    resp = it_test_resp(resp_pool);
    req->content_type = JS;
    req->body = "{\"title\":\"kept\"}";
    req->body_len = strlen(req->body);
    assert_int_equal(it_json_body(req, resp, body_spec, &out), 0);
    apr_pool_destroy(resp_pool);
    it_assert_jstr(out, "title", "kept");
    assert_int_equal(out->refcount, 1);
}

static const struct CMUnitTest tests[] = {
    IT_TEST(test_utf8_valid_table),
    IT_TEST(test_utf8_valid_respects_len),
    IT_TEST(test_utf8_len_table),
    IT_TEST(test_json_ctype_table),
    IT_TEST(test_validate_table),
    IT_TEST(test_validate_reports_all_errors),
    IT_TEST(test_validate_appends),
    IT_TEST(test_validate_ok_leaves_errors_null),
    IT_TEST(test_json_body_table),
    IT_TEST(test_json_body_scalar_is_422),
    IT_TEST(test_json_body_415_non_utf8_ctype),
    IT_TEST(test_json_body_reads_with_limit),
    IT_TEST(test_json_body_preset_not_reread),
    IT_TEST(test_json_body_reader_failures),
    IT_TEST(test_json_body_owned_by_request_pool),
    IT_TEST(test_json_compact_table),
};

IT_TEST_MAIN("json", tests)
