// results/csv.c: text for the report files: a growable buffer, UTF-8 that is always valid,
// RFC 4180 fields, numbers that read back exactly, and writing a set of files so that none
// is ever seen half-written (temp file in the same directory, fsync, rename).
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results/results_internal.h"

// ----------------------------------------------------------------------------
// the buffer: errors are sticky (oom), checked once when the text is complete

static int buf_reserve(ResultsBuf *b, size_t extra) {
    if (b->oom) return -1;
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) cap *= 2;
    char *grown = realloc(b->s, cap);
    if (!grown) {
        b->oom = 1;
        return -1;
    }
    b->s = grown;
    b->cap = cap;
    return 0;
}

void results_buf_put(ResultsBuf *b, const char *s, size_t n) {
    if (buf_reserve(b, n)) return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void results_buf_cat(ResultsBuf *b, const char *s) { results_buf_put(b, s, strlen(s)); }

void results_buf_printf(ResultsBuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void results_buf_free(ResultsBuf *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}

// ----------------------------------------------------------------------------
// UTF-8

size_t results_utf8_len(const unsigned char *p, size_t n) {
    unsigned char c = p[0];
    if (c < 0x80) return 1;
    size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (len == 0 || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    // overlong 3/4-byte forms, UTF-16 surrogates, beyond U+10FFFF
    if (c == 0xE0 && p[1] < 0xA0) return 0;
    if (c == 0xED && p[1] >= 0xA0) return 0;
    if (c == 0xF0 && p[1] < 0x90) return 0;
    if (c == 0xF4 && p[1] >= 0x90) return 0;
    return len;
}

void results_buf_cut(ResultsBuf *b, const char *s, int max_chars) {
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p), i = 0;
    for (int chars = 0; i < n && chars < max_chars; chars++) {
        size_t len = results_utf8_len(p + i, n - i);
        i += len ? len : 1;   // a stray byte counts as one character (readers show it as U+FFFD)
    }
    results_buf_put(b, (const char *)p, i);
    if (i < n) results_buf_cat(b, "\xe2\x80\xa6");
}

// ----------------------------------------------------------------------------
// CSV

/* A field needs quotes when it holds the separator, a quote or a line break (RFC 4180),
 * and also when it starts or ends with white space: readers that trim would change the
 * prompt " great" into "great" (Python and pandas keep it either way). */
static int needs_quotes(const char *s) {
    size_t n = strlen(s);
    if (n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t')) return 1;
    return strpbrk(s, ",\"\r\n") != NULL;
}

void results_csv_field(ResultsBuf *b, const char *s) {
    if (!s) s = "";
    int quote = needs_quotes(s);
    if (quote) results_buf_put(b, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t len = results_utf8_len(p + i, n - i);
        if (len == 0) {   // readers decode UTF-8 strictly: a stray byte would fail the whole file
            results_buf_cat(b, "\xEF\xBF\xBD");
            i++;
            continue;
        }
        if (p[i] == '"') results_buf_put(b, "\"\"", 2);
        else results_buf_put(b, s + i, len);
        i += len;
    }
    if (quote) results_buf_put(b, "\"", 1);
}

void results_csv_number(ResultsBuf *b, double x) {
    if (!isfinite(x)) return;   // an empty field: NaN to pandas, "" to csv
    if (x == 0) x = 0.0;        // -0 prints as 0
    if (x == floor(x) && fabs(x) < 1e15) {   // whole numbers as Python writes floats: 150.0, not 1.5e+02
        results_buf_printf(b, "%.1f", x);     // (and a column of them still reads as float, not int)
        return;
    }
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {   // the shortest text that reads back as x
        snprintf(tmp, sizeof tmp, "%.*g", prec, x);
        if (strtod(tmp, NULL) == x) break;
    }
    results_buf_cat(b, tmp);
}

// ----------------------------------------------------------------------------
// files

int results_write_files(const char *dir, const char *const *names, const ResultsBuf *const *texts, int n,
                        Err *err) {
    enum { MAX_FILES = 16 };
    TempFile tmp[MAX_FILES];
    if (n > MAX_FILES) return err_fail(err, "write: %d files at once (at most %d)", n, MAX_FILES);
    int made = 0, rc = 0;
    // every file complete on disk first, then the renames: readers see old or new, never half
    for (; made < n && rc == 0; made++) {
        const ResultsBuf *t = texts[made];
        tmp[made].fd = -1;
        tmp[made].exists = 0;
        if (t->oom) rc = err_fail(err, "write: out of memory making %s", names[made]);
        else rc = temp_open(&tmp[made], dir, names[made], err) || temp_write(&tmp[made], t->s ? t->s : "", t->len, err) ||
                  temp_close(&tmp[made], err) ? -1 : 0;
    }
    for (int i = 0; i < made && rc == 0; i++) rc = temp_publish(&tmp[i], err);
    // after a failed rename the renamed ones stay: each is complete
    for (int i = 0; i < made; i++) temp_discard(&tmp[i]);
    if (rc) return -1;
    (void)util_sync_dir(dir, NULL);   // the renames themselves durable (best effort)
    return 0;
}
