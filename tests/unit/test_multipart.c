/*
 * test_multipart.c -- the streaming multipart parser and its helpers.
 *
 * Every message of the table is parsed once per read size 1..len+1 (so
 * each delimiter, CRLF and header line is split at every offset), and each
 * run must produce the same transcript of parts and data, or the same
 * error. Then the Content-Disposition, boundary and filename helpers.
 */
#include "it_test.h"
#include "it_multipart.h"

#define BND "AaB03x"

typedef struct {
    apr_pool_t *pool;
    const char *log;             /* "[name|filename|type]data<end>..." */
    int stop_at_part;            /* > 0: the callback refuses that part */
} collect_t;

static int c_part(void *ctx, const it_mp_part_t *p)
{
    collect_t *c = ctx;
    c->log = apr_pstrcat(c->pool, c->log, "[", p->name, "|", IT_S(p->filename), "|",
                         IT_S(p->content_type), "]", NULL);
    return c->stop_at_part && !strcmp(p->name, "stop");
}

static int c_data(void *ctx, const char *buf, size_t len)
{
    collect_t *c = ctx;
    c->log = apr_pstrcat(c->pool, c->log, apr_pstrmemdup(c->pool, buf, len), NULL);
    return 0;
}

static int c_end(void *ctx)
{
    collect_t *c = ctx;
    c->log = apr_pstrcat(c->pool, c->log, "<end>", NULL);
    return 0;
}

static const it_mp_callbacks_t c_cb = { c_part, c_data, c_end };

/* Parses body in chunks of `step` bytes; returns the status, fills log. */
static it_mp_status_t parse(apr_pool_t *pool, const char *boundary, const char *body,
                            size_t len, size_t step, int max_parts, const char **log)
{
    collect_t c = { pool, "", 1 };
    it_mp_t *mp = it_mp_create(pool, boundary, max_parts, &c_cb, &c);
    it_mp_status_t st = IT_MP_OK;
    size_t off;

    if (!mp) {
        *log = NULL;
        return IT_MP_E_BOUNDARY;
    }
    for (off = 0; off < len && st == IT_MP_OK; off += step) {
        st = it_mp_feed(mp, body + off, off + step > len ? len - off : step);
    }
    if (st == IT_MP_OK) {
        st = it_mp_finish(mp);
    }
    *log = c.log;
    return st;
}

#define PART(name, extra, data) \
    "--" BND "\r\nContent-Disposition: form-data; name=\"" name "\"" extra "\r\n\r\n" \
    data "\r\n"
#define CLOSE "--" BND "--"

typedef struct {
    const char *what;
    const char *body;
    it_mp_status_t want;
    const char *log;              /* expected transcript when want == OK */
    int max_parts;
} mp_case_t;

static const mp_case_t mp_cases[] = {
    { "one file part",
      PART("file", "; filename=\"a.txt\"", "hello") CLOSE,
      IT_MP_OK, "[file|a.txt|(null)]hello<end>", 0 },
    { "content type and extra fields",
      PART("title", "", "t") "--" BND "\r\nContent-Disposition: form-data; name=file; filename=x.png\r\n"
      "Content-Type: image/png\r\n\r\n\x89PNG\r\n" PART("after", "", "z") CLOSE "\r\n",
      IT_MP_OK, "[title|(null)|(null)]t<end>[file|x.png|image/png]\x89PNG<end>"
                "[after|(null)|(null)]z<end>", 0 },
    { "preamble and epilogue are ignored",
      "This is a preamble\r\n--not the boundary\r\n" PART("a", "", "1") CLOSE
      "\r\nepilogue --" BND "\r\n garbage",
      IT_MP_OK, "[a|(null)|(null)]1<end>", 0 },
    { "data that looks like a delimiter but is not",
      PART("a", "", "x\r\n--AaB03 \r\n--AaB0\r-\r\n\r\r\n-") CLOSE,
      IT_MP_OK, "[a|(null)|(null)]x\r\n--AaB03 \r\n--AaB0\r-\r\n\r\r\n-<end>", 0 },
    { "empty part and CRLF-only data",
      PART("a", "", "") PART("b", "", "\r\n") CLOSE,
      IT_MP_OK, "[a|(null)|(null)]<end>[b|(null)|(null)]\r\n<end>", 0 },
    { "filename* wins over filename",
      PART("file", "; filename=\"eur.txt\"; filename*=UTF-8''%e2%82%ac%20rates.txt", "1") CLOSE,
      IT_MP_OK, "[file|\xe2\x82\xac rates.txt|(null)]1<end>", 0 },
    { "a bad filename* falls back to filename",
      PART("file", "; filename*=latin1''x%ff; filename=\"plain.txt\"", "1") CLOSE,
      IT_MP_OK, "[file|plain.txt|(null)]1<end>", 0 },
    { "quoted-pair in a name",
      PART("file", "; filename=\"a\\\"b\\\\c\\d.txt\"", "1") CLOSE,
      IT_MP_OK, "[file|a\"b\\c\\d.txt|(null)]1<end>", 0 },
    { "transport padding after the delimiter, folded header",
      "--" BND " \t\r\nContent-Disposition: form-data;\r\n\tname=\"f\"\r\n\r\nv\r\n" CLOSE,
      IT_MP_OK, "[f|(null)|(null)]v<end>", 0 },
    { "LF-only header lines are accepted",
      "--" BND "\r\nContent-Disposition: form-data; name=\"f\"\n\nv\r\n" CLOSE,
      IT_MP_OK, "[f|(null)|(null)]v<end>", 0 },
    { "no parts at all",
      CLOSE, IT_MP_OK, "", 0 },
    { "no closing delimiter",
      PART("file", "", "data"), IT_MP_E_TRUNCATED, NULL, 0 },
    { "body cut inside the data",
      "--" BND "\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nabc",
      IT_MP_E_TRUNCATED, NULL, 0 },
    { "body cut inside the headers",
      "--" BND "\r\nContent-Disposition: form-da", IT_MP_E_TRUNCATED, NULL, 0 },
    { "body cut after a delimiter's first dash",
      PART("a", "", "1") "--" BND "-", IT_MP_E_TRUNCATED, NULL, 0 },
    { "no delimiter", "hello\r\nworld", IT_MP_E_NO_DELIMITER, NULL, 0 },
    { "empty body", "", IT_MP_E_NO_DELIMITER, NULL, 0 },
    { "junk after the delimiter",
      "--" BND "junk\r\n", IT_MP_E_SYNTAX, NULL, 0 },
    { "bare LF after the delimiter",
      "--" BND "\nContent-Disposition: form-data; name=a\r\n\r\n\r\n" CLOSE,
      IT_MP_E_SYNTAX, NULL, 0 },
    { "missing Content-Disposition",
      "--" BND "\r\nContent-Type: text/plain\r\n\r\nx\r\n" CLOSE,
      IT_MP_E_NO_DISPOSITION, NULL, 0 },
    { "missing headers",
      "--" BND "\r\n\r\nx\r\n" CLOSE, IT_MP_E_NO_DISPOSITION, NULL, 0 },
    { "disposition without name",
      "--" BND "\r\nContent-Disposition: form-data\r\n\r\nx\r\n" CLOSE,
      IT_MP_E_NO_DISPOSITION, NULL, 0 },
    { "disposition that is not form-data",
      "--" BND "\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n" CLOSE,
      IT_MP_E_NO_DISPOSITION, NULL, 0 },
    { "unterminated quoted name",
      "--" BND "\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n" CLOSE,
      IT_MP_E_SYNTAX, NULL, 0 },
    { "header without colon",
      "--" BND "\r\nContent-Disposition form-data; name=a\r\n\r\nx\r\n" CLOSE,
      IT_MP_E_SYNTAX, NULL, 0 },
    { "two dispositions",
      "--" BND "\r\nContent-Disposition: form-data; name=a\r\n"
      "Content-Disposition: form-data; name=b\r\n\r\nx\r\n" CLOSE, IT_MP_E_SYNTAX, NULL, 0 },
    { "folded line first",
      "--" BND "\r\n continued\r\n\r\nx\r\n" CLOSE, IT_MP_E_SYNTAX, NULL, 0 },
    { "NUL in a header",
      "--" BND "\r\nContent-Disposition: form-data; name=a\0b\r\n\r\nx\r\n" CLOSE,
      IT_MP_E_SYNTAX, NULL, 0 },
    { "too many parts",
      PART("a", "", "1") PART("b", "", "2") PART("c", "", "3") CLOSE,
      IT_MP_E_TOO_MANY_PARTS, NULL, 2 },
    { "a callback refuses a part",
      PART("a", "", "1") PART("stop", "", "2") CLOSE, IT_MP_E_CALLBACK, NULL, 0 },
    { NULL, NULL, IT_MP_OK, NULL, 0 }
};

/* Bodies with embedded NULs: the table's strings are measured by sizeof. */
static size_t case_len(const mp_case_t *c)
{
    if (strstr(c->what, "NUL")) {
        return strlen(c->body) + 1 + strlen(c->body + strlen(c->body) + 1);
    }
    return strlen(c->body);
}

static void test_mp_table_every_split(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    const mp_case_t *c;
    int bad = 0;

    for (c = mp_cases; c->what; c++) {
        size_t len = case_len(c), step;
        for (step = 1; step <= len + 1; step++) {
            const char *log;
            it_mp_status_t st = parse(pool, BND, c->body, len, step, c->max_parts, &log);
            IT_CHECK(bad, st == c->want, "%s (read size %zu): status %s, want %s", c->what,
                     step, it_mp_code(st), it_mp_code(c->want));
            if (c->want == IT_MP_OK && st == IT_MP_OK) {
                IT_CHECK(bad, it_test_streq(log, c->log),
                         "%s (read size %zu): transcript\n  %s\nwant\n  %s", c->what, step,
                         IT_S(log), c->log);
            }
            if (bad > 20) {
                IT_CHECK_DONE(bad);
            }
        }
    }
    IT_CHECK_DONE(bad);
}

/* A 64 KiB part whose data is full of near-delimiters, fed in odd sizes. */
static void test_mp_large_part(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    size_t n = 65536, i, steps[] = { 1, 3, 7, 4096, 65521, 200000 };
    char *data = apr_palloc(pool, n + 1);
    const char *body, *log;

    for (i = 0; i < n; i++) {
        data[i] = "\r\n--AaB03"[i % 9];
    }
    data[n] = '\0';
    body = apr_pstrcat(pool, "--" BND "\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n",
                       data, "\r\n" CLOSE, NULL);
    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        assert_int_equal(parse(pool, BND, body, strlen(body), steps[i], 0, &log), IT_MP_OK);
        assert_true(it_test_streq(log, apr_pstrcat(pool, "[file|(null)|(null)]", data,
                                                   "<end>", NULL)));
    }
}

static void test_mp_huge_header_line(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    size_t n = IT_MP_HEADER_LINE_MAX + 10;
    char *pad = apr_palloc(pool, n + 1);
    const char *body, *log;

    memset(pad, 'a', n);
    pad[n] = '\0';
    body = apr_pstrcat(pool, "--" BND "\r\nX-Long: ", pad, "\r\n\r\nx\r\n" CLOSE, NULL);
    assert_int_equal(parse(pool, BND, body, strlen(body), 1000, 0, &log),
                     IT_MP_E_HEADER_TOO_LONG);
    /* a line without any LF at all */
    body = apr_pstrcat(pool, "--" BND "\r\n", pad, NULL);
    assert_int_equal(parse(pool, BND, body, strlen(body), 1, 0, &log),
                     IT_MP_E_HEADER_TOO_LONG);
}

static void test_mp_too_many_headers(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    const char *body = "--" BND "\r\n", *log;
    int i;

    for (i = 0; i <= IT_MP_HEADERS_MAX; i++) {
        body = apr_pstrcat(pool, body, "X-H: 1\r\n", NULL);
    }
    body = apr_pstrcat(pool, body, "\r\nx\r\n" CLOSE, NULL);
    assert_int_equal(parse(pool, BND, body, strlen(body), 5, 0, &log),
                     IT_MP_E_TOO_MANY_HEADERS);
}

/* 10k tiny parts: constant memory, and a cap when the caller sets one. */
static void test_mp_many_parts(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    const char *part = PART("p", "", "v"), *log;
    size_t plen = strlen(part), i;
    char *body = apr_palloc(pool, plen * 10000 + sizeof(CLOSE));
    collect_t c = { pool, "", 0 };
    it_mp_t *mp;

    for (i = 0; i < 10000; i++) {
        memcpy(body + i * plen, part, plen);
    }
    memcpy(body + 10000 * plen, CLOSE, sizeof(CLOSE));
    assert_int_equal(parse(pool, BND, body, strlen(body), 4096, 100, &log),
                     IT_MP_E_TOO_MANY_PARTS);
    mp = it_mp_create(pool, BND, 0, &(it_mp_callbacks_t){ NULL, c_data, NULL }, &c);
    assert_int_equal(it_mp_feed(mp, body, strlen(body)), IT_MP_OK);
    assert_int_equal(it_mp_finish(mp), IT_MP_OK);
    assert_int_equal(it_mp_parts(mp), 10000);
}

static void test_mp_errors_are_sticky(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    collect_t c = { pool, "", 0 };
    it_mp_t *mp = it_mp_create(pool, BND, 0, &c_cb, &c);

    assert_int_equal(it_mp_feed(mp, "--" BND "xx", 10), IT_MP_E_SYNTAX);
    assert_int_equal(it_mp_feed(mp, PART("a", "", "1") CLOSE, 60), IT_MP_E_SYNTAX);
    assert_int_equal(it_mp_finish(mp), IT_MP_E_SYNTAX);
    assert_null(it_mp_create(pool, "", 0, &c_cb, &c));
    assert_null(it_mp_create(pool, "a\r\nb", 0, &c_cb, &c));
    assert_null(it_mp_create(pool, NULL, 0, &c_cb, &c));
    assert_string_equal(it_mp_code(IT_MP_E_TRUNCATED), "truncated_multipart");
    assert_string_equal(it_mp_code((it_mp_status_t)99), "malformed_multipart");
    assert_non_null(it_mp_message((it_mp_status_t)99));
}

typedef struct {
    const char *ctype;
    int is_mp;
    const char *boundary;
} bnd_case_t;

static void test_mp_boundary_param(void **state)
{
    static const bnd_case_t cases[] = {
        { "multipart/form-data; boundary=AaB03x", 1, "AaB03x" },
        { "Multipart/Form-Data;boundary=\"a b:c\"", 1, "a b:c" },
        { "multipart/form-data; charset=utf-8; BOUNDARY=----WebKitFormBoundary7MA4YWxk", 1,
          "----WebKitFormBoundary7MA4YWxk" },
        { "multipart/form-data", 1, NULL },
        { "multipart/form-data; boundary=", 1, NULL },
        { "multipart/form-data; boundary=\"\"", 1, NULL },
        { "multipart/form-data; boundary=\"ends in space \"", 1, NULL },
        { "multipart/form-data; boundary=\"bad\x01char\"", 1, NULL },
        { "multipart/form-data; boundary=\"unterminated", 1, NULL },
        { "multipart/form-data; boundary=a; boundary=b", 1, NULL },
        { "multipart/form-data; boundary=0123456789012345678901234567890123456789"
          "0123456789012345678901234567890", 1, NULL },
        { "multipart/mixed; boundary=x", 0, NULL },
        { "text/plain", 0, NULL },
        { NULL, 0, NULL },
    };
    apr_pool_t *pool = IT_POOL(state);
    int bad = 0;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int is_mp = -1;
        const char *b = it_mp_boundary(pool, cases[i].ctype, &is_mp);
        IT_CHECK(bad, is_mp == cases[i].is_mp && it_test_streq(b, cases[i].boundary),
                 "%s: is_mp %d boundary %s", IT_S(cases[i].ctype), is_mp, IT_S(b));
    }
    IT_CHECK_DONE(bad);
}

typedef struct {
    const char *value;
    int rc;
    const char *type, *name, *filename;
} disp_case_t;

static void test_mp_disposition(void **state)
{
    static const disp_case_t cases[] = {
        { "form-data; name=\"file\"; filename=\"a.txt\"", 0, "form-data", "file", "a.txt" },
        { "Attachment; FILENAME=report.pdf", 0, "attachment", NULL, "report.pdf" },
        { "attachment; filename*=utf-8'en'%C3%A9t%C3%A9.txt", 0, "attachment", NULL,
          "\xc3\xa9t\xc3\xa9.txt" },
        { "attachment; filename*=UTF-8''%ZZ; filename=b", 0, "attachment", NULL, "b" },
        { "attachment; filename*=UTF-8''%00x; filename=b", 0, "attachment", NULL, "b" },
        { "attachment; filename*=UTF-8''%c3%28", 0, "attachment", NULL, NULL },
        { "attachment; filename=\"C:\\dir\\x.txt\"", 0, "attachment", NULL, "C:\\dir\\x.txt" },
        { "form-data; name=a;", 0, "form-data", "a", NULL },
        { "form-data; name", -1, NULL, NULL, NULL },
        { "form-data; =x", -1, NULL, NULL, NULL },
        { "form-data name=a", -1, NULL, NULL, NULL },
        { "; name=a", -1, NULL, NULL, NULL },
        { "", -1, NULL, NULL, NULL },
        { NULL, -1, NULL, NULL, NULL },
    };
    apr_pool_t *pool = IT_POOL(state);
    int bad = 0;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *t, *n, *f;
        int rc = it_mp_disposition(pool, cases[i].value, &t, &n, &f);
        IT_CHECK(bad, rc == cases[i].rc, "%s: rc %d", IT_S(cases[i].value), rc);
        if (rc == 0 && cases[i].rc == 0) {
            IT_CHECK(bad, it_test_streq(t, cases[i].type) && it_test_streq(n, cases[i].name)
                     && it_test_streq(f, cases[i].filename), "%s: %s %s %s",
                     cases[i].value, IT_S(t), IT_S(n), IT_S(f));
        }
    }
    IT_CHECK_DONE(bad);
}

typedef struct {
    const char *in;
    const char *out;
} name_case_t;

static void test_mp_sanitize_filename(void **state)
{
    static const name_case_t cases[] = {
        { "report.pdf", "report.pdf" },
        { "../../etc/passwd", "passwd" },
        { "..\\..\\windows\\win.ini", "win.ini" },
        { "C:\\Users\\me\\photo.png", "photo.png" },
        { "/abs/path/", "attachment" },
        { "..", "attachment" },
        { ".", "attachment" },
        { "", "attachment" },
        { "  spaced  ", "spaced" },
        { "a\x01" "b\x7f" "c\r\nd\te.txt", "abcde.txt" },
        { "x\xc2\x85y", "xy" },                          /* C1 NEL */
        { "evil\xe2\x80\xaegnp.exe", "evilgnp.exe" },    /* RTL override */
        { "bad\xff\xfeutf8", "bad__utf8" },
        { "\xe2\x82\xac.txt", "\xe2\x82\xac.txt" },
        { ".hidden", ".hidden" },
        { NULL, "attachment" },
    };
    apr_pool_t *pool = IT_POOL(state);
    int bad = 0;
    size_t i;
    char *longname;
    const char *out;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        out = it_mp_sanitize_filename(pool, cases[i].in, "attachment");
        IT_CHECK(bad, it_test_streq(out, cases[i].out), "%s -> %s, want %s",
                 IT_S(cases[i].in), IT_S(out), cases[i].out);
    }
    IT_CHECK_DONE(bad);
    /* 200 euro signs (600 bytes) are cut to 85 (255 bytes), never mid-character */
    longname = apr_palloc(pool, 601);
    for (i = 0; i < 200; i++) {
        memcpy(longname + i * 3, "\xe2\x82\xac", 3);
    }
    longname[600] = '\0';
    out = it_mp_sanitize_filename(pool, longname, "x");
    assert_int_equal(strlen(out), 255);
    assert_true(it_mp_utf8_valid(out, strlen(out)));
    longname[1] = 'a';
    out = it_mp_sanitize_filename(pool, apr_pstrcat(pool, "ab", longname, NULL), "x");
    assert_true(strlen(out) <= 255);
    assert_true(it_mp_utf8_valid(out, strlen(out)));
}

static void test_mp_media_type(void **state)
{
    apr_pool_t *pool = IT_POOL(state);

    it_assert_str(it_mp_media_type(pool, " Text/CSV ; charset=utf-8"), "text/csv");
    it_assert_str(it_mp_media_type(pool, "image/png"), "image/png");
    assert_null(it_mp_media_type(pool, ""));
    assert_null(it_mp_media_type(pool, " ;x=y"));
    assert_null(it_mp_media_type(pool, NULL));
    assert_true(it_mp_utf8_valid("\xf0\x9f\x98\x80", 4));
    assert_false(it_mp_utf8_valid("\xc0\xaf", 2));        /* overlong */
    assert_false(it_mp_utf8_valid("\xed\xa0\x80", 3));    /* surrogate */
    assert_false(it_mp_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(it_mp_utf8_valid("\xe2\x82", 2));        /* truncated */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(test_mp_table_every_split),
        IT_TEST(test_mp_large_part),
        IT_TEST(test_mp_huge_header_line),
        IT_TEST(test_mp_too_many_headers),
        IT_TEST(test_mp_many_parts),
        IT_TEST(test_mp_errors_are_sticky),
        IT_TEST(test_mp_boundary_param),
        IT_TEST(test_mp_disposition),
        IT_TEST(test_mp_sanitize_filename),
        IT_TEST(test_mp_media_type),
    };
    int rc;

    if (apr_initialize() != APR_SUCCESS) {
        return 1;
    }
    rc = cmocka_run_group_tests_name("multipart", tests, NULL, NULL);
    apr_terminate();
    return rc;
}
