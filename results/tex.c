// results/tex.c: text into LaTeX (frontier.tex, issue 15). Prompts are arbitrary text: every
// character LaTeX gives a meaning (\ { } $ & # ^ _ % ~), and anything that is not printable
// ASCII, must come out as itself or as a visible stand-in, never as markup, and the file must
// compile with pdflatex and a standard TeX install (no fontenc, inputenc or unicode setup
// assumed of the including document).
#include <stdio.h>
#include <string.h>

#include "results/results.h"

/* The code point of the valid UTF-8 sequence at p (len bytes, from results_utf8_len). */
static unsigned long code_point(const unsigned char *p, size_t len) {
    if (len == 1) return p[0];
    unsigned long c = p[0] & (0x7F >> len);
    for (size_t k = 1; k < len; k++) c = c << 6 | (p[k] & 0x3F);
    return c;
}

/* One character outside printable ASCII: \promptchar{HEX}{the character} (the file defines
 * \promptchar to print [U+HEX], which any font can; under XeLaTeX or LuaLaTeX a document
 * redefines it to print #2). Control characters and invalid bytes (U+FFFD) have no #2. */
static void tex_other(ResultsBuf *b, const unsigned char *p, size_t len) {
    unsigned long c = len ? code_point(p, len) : 0xFFFD;
    results_buf_printf(b, "\\promptchar{%04lX}{", c);
    if (len > 1) results_buf_put(b, (const char *)p, len);   // never a brace: bytes >= 0x80
    results_buf_cat(b, "}");
}

void results_tex(ResultsBuf *b, const char *s, int tt) {
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p);
    for (size_t i = 0; i < n;) {
        size_t len = results_utf8_len(p + i, n - i);
        unsigned char c = p[i];
        if (len == 0) { tex_other(b, NULL, 0); i++; continue; }
        i += len;
        if (len > 1 || c < 0x20 || c == 0x7F) { tex_other(b, p + i - len, len); continue; }
        switch (c) {
        case '\\': results_buf_cat(b, "\\textbackslash{}"); break;
        case '{': case '}': case '$': case '&': case '#': case '_': case '%': results_buf_printf(b, "\\%c", c); break;
        case '^': results_buf_cat(b, "\\textasciicircum{}"); break;
        case '~': results_buf_cat(b, "\\textasciitilde{}"); break;
        // a space is kept as written: repeated, leading and trailing ones are part of a prompt
        case ' ': results_buf_cat(b, tt ? "\\ " : " "); break;
        // OT1's roman font puts other glyphs at < > | " (its typewriter font has these)
        // braced: no ligature (<< and >> are guillemets in T1 fonts)
        case '<': results_buf_cat(b, tt ? "{<}" : "$<$"); break;
        case '>': results_buf_cat(b, tt ? "{>}" : "$>$"); break;
        case '|': results_buf_cat(b, tt ? "|" : "$|$"); break;
        case '"': results_buf_cat(b, tt ? "\"" : "''"); break;
        // braced, so that no ligature forms: -- (en dash), `` '' (quotes), !` ?` (inverted marks)
        case '-': results_buf_cat(b, "{-}"); break;
        case '`': results_buf_cat(b, "{`}"); break;
        case '\'': results_buf_cat(b, "{'}"); break;
        default: results_buf_put(b, (const char *)&c, 1);
        }
    }
}
