/*
 * tests/test_tsv.c: the TSV reader (util/tsv.c), on tables made up here:
 *   - the header's names and text column (sentence or text, anywhere);
 *   - rows: the fields before the text end at the first tabs and those after
 *     it at the last tabs (the text keeps its tabs); a one-column table;
 *   - CRLF, a BOM, a last line without its newline, blank lines (spaces and
 *     tabs only) and the line numbers that count them;
 *   - quoting: a wrapped text with every inner quote doubled is unquoted,
 *     one with a lone quote or not wrapped stays, other fields stay;
 *   - errors, each naming the file (and the line): a NUL byte, an empty
 *     file, a header without (or with two) text columns, a row without a
 *     tab, a row with too few fields.
 * The callers (tests/test_tuners_task.c, tests/test_train.c) check the real
 * data files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define TEST_NAME "test_tsv"
#include "tests/testlib.h"

/* A reader over a copy of the n bytes of text (NUL-terminated, as
 * util_read_file gives them); *buf is the copy, for free. */
static int open_bytes(TsvReader *r, char **buf, const char *text, size_t n, Err *err) {
    *buf = xmalloc(n + 1);
    memcpy(*buf, text, n);
    (*buf)[n] = '\0';
    return tsv_open(r, *buf, n, "t.tsv", err);
}

/* The rows of text, each as its fields joined by '|', one row per string. */
static int rows_are(const char *text, const char *const *want, int n_want, const char *what) {
    TsvReader r;
    char *buf, got[512];
    Err err = {{0}};
    if (open_bytes(&r, &buf, text, strlen(text), &err)) {
        CHECK(0, "%s: %s", what, err.msg);
        free(buf);
        return 0;
    }
    int n = 0, rc;
    while ((rc = tsv_next_row(&r, &err)) == 1) {
        size_t used = 0;
        for (int c = 0; c < r.n_cols; c++)
            used += (size_t)snprintf(got + used, sizeof got - used, "%s%s", c ? "|" : "", r.fields[c]);
        CHECK(n < n_want && strcmp(got, want[n]) == 0, "%s: row %d is [%s], want [%s]", what, n, got,
              n < n_want ? want[n] : "(none)");
        n++;
    }
    CHECK(rc == 0, "%s: %s", what, err.msg);
    CHECK(n == n_want, "%s: %d rows, want %d", what, n, n_want);
    tsv_close(&r);
    free(buf);
    return n;
}

static void test_header(void) {
    TsvReader r;
    char *buf;
    Err err = {{0}};
    const char *text = "\xEF\xBB\xBFid\ttext\tlabel\r\n";
    CHECK(open_bytes(&r, &buf, text, strlen(text), &err) == 0, "header: %s", err.msg);
    CHECK(r.n_cols == 3 && r.text_col == 1 && r.line_no == 1, "header: %d columns, text %d, line %zu", r.n_cols,
          r.text_col, r.line_no);
    CHECK(r.n_cols == 3 && strcmp(r.fields[0], "id") == 0 && strcmp(r.fields[1], "text") == 0 &&
              strcmp(r.fields[2], "label") == 0,
          "header names (BOM and CR gone)");
    CHECK(tsv_next_row(&r, &err) == 0, "a header alone has no rows");
    tsv_close(&r);
    free(buf);
}

static void test_rows(void) {
    // sentence<TAB>label: the split at the last tab; CRLF, blank lines, no final newline
    const char *const two[] = {"a good film |1", "left\tright|0", " |1", "last|0"};
    rows_are("sentence\tlabel\r\na good film \t1\r\n\r\n  \r\nleft\tright\t0\r\n \t\t \n \t1\nlast\t0", two, 4,
             "sentence, label");
    // the text in the middle: the fields before it at the first tabs, after it at the last
    const char *const mid[] = {"7|x\ty\tz|a|b", "8||c|d"};
    rows_are("id\tsentence\tp\tq\n7\tx\ty\tz\ta\tb\n8\t\tc\td\n", mid, 2, "text in the middle");
    // one column: the whole line, tabs and all
    const char *const one[] = {"a\tb", "c"};
    rows_are("text\na\tb\nc\n", one, 2, "one column");
    // quoting: only the text, only when wrapped and every inner quote doubled
    const char *const quoted[] = {"say \"hi\" now|1", "\"lone \" quote\"|0", "plain \"q\"|1", "\"\"|\"1\"",
                                  "  \"x\"|0", "|1"};
    rows_are("sentence\tlabel\n\"say \"\"hi\"\" now\"\t1\n\"lone \" quote\"\t0\nplain \"q\"\t1\n\"\"\"\"\"\"\t\"1\"\n"
             "  \"x\"\t0\n\"\"\t1\n",
             quoted, 6, "quoting");
}

/* Reading text fails (at open, or at a row), with a message holding piece1
 * and piece2 (if not NULL). */
static void expect_error(const char *text, size_t n, const char *piece1, const char *piece2, const char *what) {
    TsvReader r;
    char *buf;
    Err err = {{0}};
    int rc = open_bytes(&r, &buf, text, n, &err);
    if (rc == 0) {
        while ((rc = tsv_next_row(&r, &err)) == 1) {}
        CHECK(rc == -1, "%s: read to the end without an error", what);
    } else {
        CHECK(r.fields == NULL, "%s: a failed open left fields behind", what);
    }
    CHECK(rc != -1 || (strstr(err.msg, "t.tsv") && strstr(err.msg, piece1) && (!piece2 || strstr(err.msg, piece2))),
          "%s: message \"%s\" lacks \"%s\"%s%s", what, err.msg, piece1, piece2 ? " / " : "", piece2 ? piece2 : "");
    tsv_close(&r);
    free(buf);
}

#define BYTES(literal) literal, sizeof literal - 1 // a string literal and its length, NUL bytes and all

static void test_errors(void) {
    expect_error(BYTES("sentence\tlabel\nfi\0ne\t1\n"), "NUL byte", NULL, "a NUL byte");
    expect_error(BYTES(""), "empty", NULL, "an empty file");
    expect_error(BYTES("\xEF\xBB\xBF"), "empty", NULL, "a BOM alone");
    expect_error(BYTES("review\tlabel\ngood\t1\n"), ":1: bad header", "review", "no text column");
    expect_error(BYTES("sentences\tlabel\n"), "no column named 'sentence' or 'text'", NULL, "sentences is not sentence");
    expect_error(BYTES("sentence\ttext\tlabel\n"), "more than one", NULL, "two text columns");
    expect_error(BYTES("sentence\tlabel\nfine\t0\n\nno tab here\n"), ":4: no tab", "no tab here", "a row without a tab");
    expect_error(BYTES("id\tsentence\tlabel\nonly\t0\n"), ":2: too few fields", NULL, "a row with too few fields");
    expect_error(BYTES("label\tsentence\tid\n1\tgood\n"), ":2: too few fields", NULL, "too few after the text");
}

int main(void) {
    test_header();
    test_rows();
    test_errors();
    printf("test_tsv: %d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
