/*
 * util/tsv.c: the one reader of tab-separated tables (the data splits of the
 * tuners, the trainer's documents); the rules are in util/util.h.
 */
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* The line at r->cursor, its end (LF or CR LF) cut to NUL; NULL at the end of
 * the buffer. */
static char *next_line(TsvReader *r, size_t *len) {
    if (r->cursor >= r->end) return NULL;
    char *line = r->cursor;
    char *nl = memchr(line, '\n', (size_t)(r->end - line));
    char *line_end = nl ? nl : r->end;
    r->cursor = nl ? nl + 1 : r->end;
    r->line_no++;
    if (line_end > line && line_end[-1] == '\r') line_end--;
    *line_end = '\0'; // at r->end: the buffer's own NUL
    *len = (size_t)(line_end - line);
    return line;
}

/* A field wrapped in double quotes with every inner quote doubled is unquoted
 * in place ("" -> "), as pandas reads these files (the AG News texts are
 * quoted like this); any other quotes belong to the text. Returns the new
 * length. */
static size_t unquote(char *s, size_t n) {
    if (n < 2 || s[0] != '"' || s[n - 1] != '"') return n;
    for (size_t i = 1; i + 1 < n; i++) {
        if (s[i] != '"') continue;
        if (i + 2 < n && s[i + 1] == '"') i++;
        else return n; // a lone inner quote: not a quoted field
    }
    size_t out = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        s[out++] = s[i];
        if (s[i] == '"') i++;
    }
    return out;
}

void tsv_close(TsvReader *r) {
    free(r->fields);
    memset(r, 0, sizeof *r);
}

int tsv_open(TsvReader *r, char *buf, size_t len, const char *path, Err *err) {
    memset(r, 0, sizeof *r);
    r->path = path;
    r->cursor = buf;
    r->end = buf + len;
    if (memchr(buf, '\0', len)) return err_fail(err, "%s: holds a NUL byte: not a text file", path);
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) r->cursor += 3; // UTF-8 BOM
    size_t n;
    char *header = next_line(r, &n);
    if (!header) return err_fail(err, "%s: empty file (no header line)", path);
    int cols = 1;
    for (size_t i = 0; i < n; i++) cols += header[i] == '\t';
    r->fields = malloc((size_t)cols * sizeof *r->fields);
    if (!r->fields) return err_fail(err, "%s: out of memory (a header of %d columns)", path, cols);
    r->n_cols = cols;
    r->text_col = -1;
    int texts = 0;
    const char *name = header;
    for (int c = 0; c < cols; c++) {
        size_t name_len = strcspn(name, "\t");
        if ((name_len == 8 && memcmp(name, "sentence", 8) == 0) || (name_len == 4 && memcmp(name, "text", 4) == 0)) {
            texts++;
            if (r->text_col < 0) r->text_col = c;
        }
        name += name_len + 1;
    }
    if (texts != 1) {
        err_fail(err, "%s:1: bad header \"%.80s\": %s column named 'sentence' or 'text'", path, header,
                 texts ? "more than one" : "no");
        tsv_close(r);
        return -1;
    }
    char *cut = header; // the names, each NUL-terminated
    for (int c = 0; c < cols; c++) {
        r->fields[c] = cut;
        char *tab = strchr(cut, '\t');
        if (!tab) break;
        *tab = '\0';
        cut = tab + 1;
    }
    return 0;
}

int tsv_next_row(TsvReader *r, Err *err) {
    size_t n;
    char *line;
    do line = next_line(r, &n);
    while (line && line[strspn(line, " \t")] == '\0'); // nothing but blanks: no row
    if (!line) return 0;
    if (r->n_cols > 1 && !memchr(line, '\t', n))
        return err_fail(err, "%s:%zu: no tab in \"%.60s\" (the header has %d tab-separated fields)", r->path,
                        r->line_no, line, r->n_cols);
    // the fields before the text end at the first tabs, those after it at the last tabs
    char *text = line, *text_end = line + n;
    for (int c = 0; c < r->text_col; c++) {
        char *tab = memchr(text, '\t', (size_t)(text_end - text));
        if (!tab) goto too_few;
        *tab = '\0';
        r->fields[c] = text;
        text = tab + 1;
    }
    for (int c = r->n_cols - 1; c > r->text_col; c--) {
        char *tab = memrchr(text, '\t', (size_t)(text_end - text));
        if (!tab) goto too_few;
        *tab = '\0';
        r->fields[c] = tab + 1;
        text_end = tab;
    }
    text[unquote(text, (size_t)(text_end - text))] = '\0';
    r->fields[r->text_col] = text;
    return 1;
too_few:
    return err_fail(err, "%s:%zu: too few fields for the header's %d tab-separated ones", r->path, r->line_no,
                    r->n_cols);
}
