// tests/tool_tokenize.c: encodes records from a file with the C tokenizer,
// the C side of tests/t_tokenizer_js.sh.
//
//   tool_tokenize [-0] [-r] [-t] TOKENIZER_DIR IN OUT
//
// IN holds records, one per line ('\n' removed), or with -0 each ended by a
// NUL (so records may hold newlines and be empty). OUT gets one line per
// record: its ids separated by spaces, the format tests/tokenizer_ref.js
// writes. -r checks that decoding the ids gives back every record that is
// valid UTF-8; -t prints the encode time to stderr. Exit 0 on success.
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gpt2.h"

static char *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *bigger = realloc(buf, 2 * cap);
        if (!bigger) { free(buf); buf = NULL; break; }
        buf = bigger;
        cap *= 2;
    }
    fclose(f);
    *size = n;
    return buf;
}

// Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF):
// the records that must survive an encode-decode round trip.
static bool utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char b = s[i];
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (b < 0x80) { i++; continue; }
        if (b >= 0xC2 && b <= 0xDF) need = 1;
        else if (b >= 0xE0 && b <= 0xEF) { need = 2; if (b == 0xE0) lo = 0xA0; if (b == 0xED) hi = 0x9F; }
        else if (b >= 0xF0 && b <= 0xF4) { need = 3; if (b == 0xF0) lo = 0x90; if (b == 0xF4) hi = 0x8F; }
        else return false;
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= n || s[i + k] < lo || s[i + k] > hi) return false;
            lo = 0x80; hi = 0xBF;
        }
        i += need + 1;
    }
    return true;
}

int main(int argc, char **argv) {
    bool nul_separated = false, check_roundtrip = false, timing = false;
    int argi = 1;
    for (; argi < argc && argv[argi][0] == '-'; argi++) {
        if (strcmp(argv[argi], "-0") == 0) nul_separated = true;
        else if (strcmp(argv[argi], "-r") == 0) check_roundtrip = true;
        else if (strcmp(argv[argi], "-t") == 0) timing = true;
        else break;
    }
    if (argc - argi != 3) {
        fprintf(stderr, "usage: %s [-0] [-r] [-t] TOKENIZER_DIR IN OUT\n", argv[0]);
        return 2;
    }
    const char *dir = argv[argi], *in_path = argv[argi + 1], *out_path = argv[argi + 2];

    Err err;
    GPT2Tokenizer *tok;
    if (tokenizer_load(&tok, dir, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    size_t size;
    char *data = read_all(in_path, &size);
    if (!data) {
        fprintf(stderr, "%s: cannot read\n", in_path);
        return 1;
    }
    FILE *out = fopen(out_path, "wb");
    if (!out) {
        fprintf(stderr, "%s: cannot write\n", out_path);
        return 1;
    }

    char sep = nul_separated ? '\0' : '\n';
    int max_ids = 1024;
    int *ids = malloc((size_t)max_ids * sizeof *ids);
    size_t decoded_cap = 4096;
    char *decoded = malloc(decoded_cap);
    size_t records = 0, total_ids = 0, roundtrip_failures = 0;
    double encode_seconds = 0;
    int rc = 0;
    if (!ids || !decoded) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (size_t pos = 0; pos < size;) {
        const char *rec = data + pos;
        const char *stop = memchr(rec, sep, size - pos);
        size_t len = stop ? (size_t)(stop - rec) : size - pos;
        pos += len + (stop ? 1 : 0);
        records++;

        int n_ids;
        double t0 = util_now();
        int enc = tokenizer_encode(tok, rec, len, ids, max_ids, &n_ids, &err);
        encode_seconds += util_now() - t0;
        if (enc != 0 && n_ids > max_ids) {   // too small: n_ids says how many are needed
            int *bigger = realloc(ids, (size_t)n_ids * sizeof *ids);
            if (!bigger) { fprintf(stderr, "out of memory\n"); rc = 1; break; }
            ids = bigger;
            max_ids = n_ids;
            enc = tokenizer_encode(tok, rec, len, ids, max_ids, &n_ids, &err);
        }
        if (enc != 0) {
            fprintf(stderr, "record %zu: %s\n", records, err.msg);
            rc = 1;
            break;
        }
        total_ids += (size_t)n_ids;
        for (int i = 0; i < n_ids; i++) fprintf(out, i ? " %d" : "%d", ids[i]);
        fputc('\n', out);

        if (check_roundtrip && utf8_valid((const unsigned char *)rec, len)) {
            size_t out_len;
            if (tokenizer_decode(tok, ids, n_ids, decoded, decoded_cap, &out_len, &err) != 0 && out_len >= decoded_cap) {
                decoded_cap = out_len + 1;
                char *bigger = realloc(decoded, decoded_cap);
                if (!bigger) { fprintf(stderr, "out of memory\n"); rc = 1; break; }
                decoded = bigger;
            }
            if (tokenizer_decode(tok, ids, n_ids, decoded, decoded_cap, &out_len, &err) != 0) {
                fprintf(stderr, "record %zu: %s\n", records, err.msg);
                rc = 1;
                break;
            }
            if (out_len != len || memcmp(decoded, rec, len) != 0) {
                if (roundtrip_failures++ < 10)
                    fprintf(stderr, "record %zu: decode(encode(x)) != x: \"%.*s\" -> \"%.*s\"\n", records,
                            (int)(len < 200 ? len : 200), rec, (int)(out_len < 200 ? out_len : 200), decoded);
                rc = 1;
            }
        }
    }
    if (fclose(out) != 0) {
        fprintf(stderr, "%s: write error\n", out_path);
        rc = 1;
    }
    if (roundtrip_failures) fprintf(stderr, "%zu records did not round-trip\n", roundtrip_failures);
    if (timing)
        fprintf(stderr, "encoded %zu records, %zu bytes, %zu ids in %.3f s (%.1f MB/s)\n", records, size,
                total_ids, encode_seconds, encode_seconds > 0 ? (double)size / encode_seconds / 1e6 : 0.0);
    free(decoded);
    free(ids);
    free(data);
    tokenizer_free(tok);
    return rc;
}
