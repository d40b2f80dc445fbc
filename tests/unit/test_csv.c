/*
 * test_csv.c -- the import CSV parser and row checks (it_csv.c), table
 * driven: each row is an input file, the rows it must yield (rendered as
 * "line|title|description|priority|type|status|assignee|labels|project",
 * "~" for NULL) and the errors ("line:column:code", "-" for no column).
 * Every input is fed whole and then one byte at a time, so chunk
 * boundaries inside a BOM, a quote or a CRLF are covered too.
 */
#include "it_test.h"
#include "it_csv.h"

typedef struct {
    const char *name;
    const char *input;
    apr_size_t len;                  /* 0: strlen(input) */
    int max_rows;
    it_csv_status_t status;
    const char *rows;                /* NULL: not checked */
    const char *errors;              /* "" : none */
} csv_case_t;

#define HDR "title,priority,project\n"

static const csv_case_t cases[] = {
    { "plain", HDR "Fix login,high,ABC\nAdd export,,ABC\n", 0, 0, IT_CSV_OK,
      "2|Fix login|~|high|~|~|~|~|ABC\n3|Add export|~|~|~|~|~|~|ABC\n", "" },
    { "quoted separators and quotes", "title,description\n"
      "\"a, b\",\"he said \"\"hi\"\"\"\n", 0, 0, IT_CSV_OK,
      "2|a, b|he said \"hi\"|~|~|~|~|~|~\n", "" },
    { "embedded newlines keep the start line", "title,description\n"
      "\"one\ntwo\",\"x\r\ny\"\nnext,\n", 0, 0, IT_CSV_OK,
      "2|one\ntwo|x\r\ny|~|~|~|~|~|~\n5|next|~|~|~|~|~|~|~\n", "" },
    { "CRLF line ends", "title,type\r\nA,bug\r\nB,Feature\r\n", 0, 0, IT_CSV_OK,
      "2|A|~|~|bug|~|~|~|~\n3|B|~|~|feature|~|~|~|~\n", "" },
    { "bare CR line ends count as lines", "title,description\rA,\"x\ry\"\rB,\r", 0, 0,
      IT_CSV_OK, "2|A|x\ry|~|~|~|~|~|~\n4|B|~|~|~|~|~|~|~\n", "" },
    { "BOM is dropped", "\xEF\xBB\xBFtitle\nA\n", 0, 0, IT_CSV_OK,
      "2|A|~|~|~|~|~|~|~\n", "" },
    { "half a BOM is data", "\xEF\xBBtitle\nA\n", 0, 0, IT_CSV_OK,
      "", "1:-:missing_header" },
    { "no trailing newline", "title\nA", 0, 0, IT_CSV_OK,
      "2|A|~|~|~|~|~|~|~\n", "" },
    { "blank lines are skipped but counted", "title\n\nA\n\nB\n", 0, 0, IT_CSV_OK,
      "3|A|~|~|~|~|~|~|~\n5|B|~|~|~|~|~|~|~\n", "" },
    { "header names ignore case and spaces", " Title , STATUS\nA,In_Progress\n", 0, 0,
      IT_CSV_OK, "2|A|~|~|~|in_progress|~|~|~\n", "" },
    { "spaces are data", "title,priority\n  A  , high \n", 0, 0, IT_CSV_OK,
      "2|  A  |~|high|~|~|~|~|~\n", "" },
    { "labels normalised", "title,labels\nA, bug ;;UI;Bug; ui \n", 0, 0, IT_CSV_OK,
      "2|A|~|~|~|~|~|bug;UI|~\n", "" },
    { "assignee and project trimmed", "title,assignee,project\nA, alice@x.org , P1 \n",
      0, 0, IT_CSV_OK, "2|A|~|~|~|~|alice@x.org|~|P1\n", "" },
    { "formula cells are text", "title,description\n=1+1,@SUM(A1)\n", 0, 0, IT_CSV_OK,
      "2|=1+1|@SUM(A1)|~|~|~|~|~|~\n", "" },
    { "the formula guard is removed once", "title,description\n"
      "'=SUM(A1),'+1\n'-x,'@cmd\n'\tTab,''=quoted\n\"'\rx\",''x\n", 0, 0, IT_CSV_OK,
      "2|=SUM(A1)|+1|~|~|~|~|~|~\n3|-x|@cmd|~|~|~|~|~|~\n"
      "4|\tTab|'=quoted|~|~|~|~|~|~\n5|\rx|'x|~|~|~|~|~|~\n", "" },
    { "a quote not before a guarded character is data", "title,description\n"
      "'plain,'\n' =x,a'=b\n", 0, 0, IT_CSV_OK,
      "2|'plain|'|~|~|~|~|~|~\n3|' =x|a'=b|~|~|~|~|~|~\n", "" },
    { "the guard on every column", "title,assignee,labels,project\n"
      "'=t,'@bob,'-wip; bug,'+P\nA, '@bob ,'x,'P\n", 0, 0, IT_CSV_OK,
      "2|=t|~|~|~|~|@bob|-wip;bug|+P\n3|A|~|~|~|~|'@bob|'x|'P\n", "" },
    { "a guarded enum is checked without the guard", "title,priority\nA,'-low\n",
      0, 0, IT_CSV_OK, "2|A|~|~|~|~|~|~|~\n", "2:priority:enum" },
    { "ragged rows", "title,priority\nA\nB,low,extra\nC,low\n", 0, 0, IT_CSV_OK,
      NULL, "2:-:field_count 3:-:field_count" },
    { "empty file", "", 0, 0, IT_CSV_OK, "", "1:-:missing_header" },
    { "data instead of a header", "Fix login,high\n", 0, 0, IT_CSV_OK, "",
      "1:-:missing_header" },
    { "unknown column", "title,owner\nA,b\n", 0, 0, IT_CSV_OK, "",
      "1:owner:unknown_column" },
    { "duplicate column", "title,title\nA,B\n", 0, 0, IT_CSV_OK, "",
      "1:title:duplicate_column" },
    { "no title column", "priority\nlow\n", 0, 0, IT_CSV_OK, "", "1:title:required" },
    { "header only", "title\n", 0, 0, IT_CSV_OK, "", "2:-:no_rows" },
    { "bad enums", "title,priority,type,status\nA,urgent,epic,done\n", 0, 0, IT_CSV_OK,
      "2|A|~|~|~|~|~|~|~\n", "2:priority:enum 2:type:enum 2:status:enum" },
    { "blank title", "title,priority\n   ,low\n,low\n", 0, 0, IT_CSV_OK, NULL,
      "2:title:required 3:title:required" },
    { "title of 200 characters (multi-byte) is fine", "title\n"
      "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
      "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
      "\n", 0, 0, IT_CSV_OK, NULL, "" },
    { "invalid UTF-8 in a cell", "title,description\nA,\xC3\x28\n\xFF,ok\n", 0, 0,
      IT_CSV_OK, "2|A|~|~|~|~|~|~|~\n3|~|ok|~|~|~|~|~|~\n",
      "2:description:invalid_utf8 3:title:invalid_utf8" },
    { "NUL in a cell", "title\nA\0B\n", 10, 0, IT_CSV_OK, NULL,
      "2:title:invalid_character" },
    { "unterminated quote", "title,description\nA,\"open\nB,c\n", 0, 0, IT_CSV_ABORTED,
      NULL, "2:-:unbalanced_quote" },
    { "quote inside a field", "title,description\nA,b\"c\"\n", 0, 0, IT_CSV_ABORTED,
      NULL, "2:description:invalid_quote" },
    { "text after a closing quote", "title\n\"a\"b\n", 0, 0, IT_CSV_ABORTED, NULL,
      "2:title:invalid_quote" },
    { "row limit", "title\nA\nB\nC\n", 0, 2, IT_CSV_TOO_MANY_ROWS, NULL, "" },
    { "row limit exactly", "title\nA\nB\n", 0, 2, IT_CSV_OK, NULL, "" },
};

static const char *render_rows(apr_pool_t *pool, const apr_array_header_t *rows)
{
    const char *out = "";
    int i, j;

    for (i = 0; i < rows->nelts; i++) {
        const it_csv_row_t *r = &APR_ARRAY_IDX(rows, i, it_csv_row_t);
        out = apr_psprintf(pool, "%s%d", out, r->line);
        for (j = 0; j < IT_CSV_NCOLS; j++) {
            out = apr_pstrcat(pool, out, "|", r->f[j] ? r->f[j] : "~", NULL);
        }
        out = apr_pstrcat(pool, out, "\n", NULL);
    }
    return out;
}

static const char *render_errors(apr_pool_t *pool, const apr_array_header_t *errs)
{
    const char *out = "";
    int i;

    for (i = 0; i < errs->nelts; i++) {
        const it_csv_error_t *e = &APR_ARRAY_IDX(errs, i, it_csv_error_t);
        out = apr_psprintf(pool, "%s%s%d:%s:%s", out, i ? " " : "", e->line,
                           e->column ? e->column : "-", e->code);
    }
    return out;
}

static it_csv_t *run(apr_pool_t *pool, const csv_case_t *c, apr_size_t chunk,
                     it_csv_status_t *st)
{
    it_csv_t *p = it_csv_create(pool, c->max_rows);
    apr_size_t len = c->len ? c->len : strlen(c->input), off;

    *st = IT_CSV_OK;
    for (off = 0; off < len && *st == IT_CSV_OK; off += chunk) {
        apr_size_t n = len - off < chunk ? len - off : chunk;
        *st = it_csv_feed(p, c->input + off, n);
    }
    if (*st == IT_CSV_OK) {
        *st = it_csv_finish(p);
    }
    return p;
}

static void test_cases(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    const apr_size_t chunks[] = { 1 << 20, 1, 3 };
    size_t i, k;
    int nbad = 0;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
            const csv_case_t *c = &cases[i];
            it_csv_status_t st;
            it_csv_t *p = run(pool, c, chunks[k], &st);
            const char *rows, *errs;

            IT_CHECK(nbad, p != NULL, "%s: create", c->name);
            if (!p) {
                continue;
            }
            rows = render_rows(pool, it_csv_rows(p));
            errs = render_errors(pool, it_csv_errors(p));
            IT_CHECK(nbad, st == c->status, "%s (chunk %zu): status %d, want %d",
                     c->name, (size_t)chunks[k], st, c->status);
            IT_CHECK(nbad, !c->rows || !strcmp(rows, c->rows),
                     "%s (chunk %zu): rows\n%s\nwant\n%s", c->name,
                     (size_t)chunks[k], rows, IT_S(c->rows));
            IT_CHECK(nbad, !strcmp(errs, c->errors),
                     "%s (chunk %zu): errors \"%s\", want \"%s\"", c->name,
                     (size_t)chunks[k], errs, c->errors);
            IT_CHECK(nbad, it_csv_error_count(p) == it_csv_errors(p)->nelts,
                     "%s: error count %d", c->name, it_csv_error_count(p));
        }
    }
    IT_CHECK_DONE(nbad);
}

static void test_title_too_long(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    char title[202];
    it_csv_t *p = it_csv_create(pool, 0);
    const it_csv_error_t *e;

    memset(title, 'x', 201);
    title[201] = '\0';
    it_csv_feed(p, "title\n", 6);
    it_csv_feed(p, title, 201);
    assert_int_equal(it_csv_finish(p), IT_CSV_OK);
    assert_int_equal(it_csv_error_count(p), 1);
    e = &APR_ARRAY_IDX(it_csv_errors(p), 0, it_csv_error_t);
    it_assert_str(e->code, "too_long");
    it_assert_str(e->column, "title");
    assert_int_equal(e->line, 2);
}

/* 1000 items are kept, every error is counted. */
static void test_errors_are_capped_and_counted(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    it_csv_t *p = it_csv_create(pool, 0);
    int i;

    it_csv_feed(p, "title,priority\n", 15);
    for (i = 0; i < 1500; i++) {
        it_csv_feed(p, "A,bad\n", 6);
    }
    assert_int_equal(it_csv_finish(p), IT_CSV_OK);
    assert_int_equal(it_csv_error_count(p), 1500);
    assert_int_equal(it_csv_errors(p)->nelts, IT_CSV_MAX_ERRORS);
    assert_int_equal(APR_ARRAY_IDX(it_csv_errors(p), 999, it_csv_error_t).line, 1001);
    assert_int_equal(it_csv_rows(p)->nelts, 1500);
}

/* The guard both ways: what the export guards, and what the import strips
 * (one quote, only before a guarded character). */
static void test_formula_guard(void **state)
{
    static const struct {
        const char *in;
        int guard;                   /* it_csv_needs_guard(in) */
        const char *stripped;        /* in after it_csv_unguard */
    } rows[] = {
        { "=SUM(A1)", 1, "=SUM(A1)" }, { "+1", 1, "+1" }, { "-x", 1, "-x" },
        { "@cmd", 1, "@cmd" }, { "\tTab", 1, "\tTab" }, { "\rx", 1, "\rx" },
        { "'", 1, "'" }, { "'abc", 1, "'abc" }, { "'plain", 1, "'plain" },
        { "'=x", 1, "=x" }, { "'+1", 1, "+1" }, { "'-", 1, "-" }, { "'@", 1, "@" },
        { "'\t", 1, "\t" }, { "'\r\n", 1, "\r\n" }, { "''", 1, "'" },
        { "''=x", 1, "'=x" }, { "'''", 1, "''" },
        { "", 0, "" }, { "abc", 0, "abc" }, { " =x", 0, " =x" }, { "a'=b", 0, "a'=b" },
        { "\n=x", 0, "\n=x" }, { "#x", 0, "#x" }, { "%x", 0, "%x" },
    };
    size_t i;
    int nbad = 0;
    (void)state;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *s = rows[i].in;
        apr_size_t len = strlen(s);
        int did = it_csv_unguard(&s, &len);

        IT_CHECK(nbad, it_csv_needs_guard(rows[i].in, strlen(rows[i].in)) == rows[i].guard,
                 "needs_guard(\"%s\") != %d", rows[i].in, rows[i].guard);
        IT_CHECK(nbad, len == strlen(rows[i].stripped)
                       && !memcmp(s, rows[i].stripped, len)
                       && did == (s != rows[i].in),
                 "unguard(\"%s\") = \"%.*s\", want \"%s\"", rows[i].in, (int)len, s,
                 rows[i].stripped);
        /* the round trip: guard as the export does, strip as the import does */
        if (rows[i].guard) {
            const char *g = apr_pstrcat(IT_POOL(state), "'", rows[i].in, NULL);
            apr_size_t glen = strlen(g);
            it_csv_unguard(&g, &glen);
            IT_CHECK(nbad, !strcmp(g, rows[i].in), "round trip of \"%s\": \"%s\"",
                     rows[i].in, g);
        }
    }
    /* a NUL byte is no guarded character; a length bounds the look */
    assert_int_equal(it_csv_needs_guard("\0=", 2), 0);
    assert_int_equal(it_csv_needs_guard("=", 0), 0);
    {
        const char *s = "'=";
        apr_size_t len = 1;
        assert_int_equal(it_csv_unguard(&s, &len), 0);
        assert_int_equal(len, 1);
    }
    IT_CHECK_DONE(nbad);
}

static void test_copy_line_escapes(void **state)
{
    it_csv_row_t row;
    char buf[256];
    apr_size_t n;
    (void)state;

    memset(&row, 0, sizeof(row));
    row.line = 7;
    row.f[IT_CSV_TITLE] = "a\tb\\c\nd\re";
    row.f[IT_CSV_PROJECT] = "P";
    n = it_csv_copy_line(&row, buf, sizeof(buf));
    assert_true(n > 0);
    buf[n] = '\0';
    it_assert_str(buf, "7\ta\\tb\\\\c\\nd\\re\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\tP\n");
    assert_int_equal(it_csv_copy_line(&row, buf, 10), 0);
}

static const struct CMUnitTest tests[] = {
    IT_TEST(test_cases),
    IT_TEST(test_title_too_long),
    IT_TEST(test_errors_are_capped_and_counted),
    IT_TEST(test_formula_guard),
    IT_TEST(test_copy_line_escapes),
};

IT_TEST_MAIN("csv", tests)
