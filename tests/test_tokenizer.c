// tests/test_tokenizer.c: unit tests of the GPT-2 tokenizer (model/tokenizer.c).
//
// Part 1 writes small tokenizers of its own into a scratch directory ($TMP or
// /tmp) and checks the loader's error paths and the BPE on a known merge list.
// Part 2 uses the real GPT-2 files in $TOKENIZER_DIR (default
// models/gpt2-tokenizer): known encodings, round trips, ill-formed UTF-8,
// errors of encode and decode, and the cache. Without those files part 2 is
// skipped (exit 77) after part 1 passes. The full comparison with the
// JavaScript reference is tests/t_tokenizer_js.sh.
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "model/gpt2.h"

#define TEST_NAME "test_tokenizer"
#include "tests/testlib.h"

// ----------------------------------------------------------------------------
// helpers (the scratch directory and writing files: tests/testlib.h)

// A fresh directory root/name (its path: static storage, one at a time).
static const char *new_dir(const char *name) {
    static char path[4200];
    scratch_dir(path, sizeof path, name);
    return path;
}

// GPT-2's bytes_to_unicode: the code point that stands for byte b in vocab.json.
static unsigned byte_to_cp(int b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    if (printable) return (unsigned)b;
    unsigned shifted = 0;
    for (int x = 0; x < b; x++)
        if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF))) shifted++;
    return 256 + shifted;
}

// Appends the byte-level form of bytes to out (UTF-8), escaped for JSON when json is set.
static void append_byte_level(char *out, const char *bytes, bool json) {
    size_t n = strlen(out);
    for (const unsigned char *p = (const unsigned char *)bytes; *p; p++) {
        unsigned cp = byte_to_cp(*p);
        if (json && (cp == '"' || cp == '\\')) out[n++] = '\\';
        if (cp < 0x80) {
            out[n++] = (char)cp;
        } else {
            out[n++] = (char)(0xC0 | (cp >> 6));
            out[n++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    out[n] = '\0';
}

// The small tokenizer of part 1: 256 byte tokens (id = byte), then one token
// per merge, then <|endoftext|>.
static const char *small_merges[][2] = {
    {"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {" ", "w"}, {"o", "r"}, {" w", "or"}, {"a", "a"},
};
#define N_SMALL_MERGES (int)(sizeof small_merges / sizeof small_merges[0])
enum { ID_HELLO = 256 + 3, ID_SPACE_WOR = 256 + 6, ID_AA = 256 + 7, SMALL_VOCAB = 256 + N_SMALL_MERGES + 1 };

// vocab.json of the small tokenizer with extra_entries spliced in before the
// closing brace; skip_byte (-1 none) leaves one byte out.
static char *small_vocab_json(const char *extra_entries, int skip_byte) {
    char *json = malloc(1 << 16);
    strcpy(json, "{");
    char token[64];
    for (int b = 0; b < 256; b++) {
        if (b == skip_byte) continue;
        char bytes[2] = {(char)b, 0};
        strcat(json, "\"");
        if (b == 0) strcat(json, "\xC4\x80");   // byte 0 is U+0100 (strlen would stop at it)
        else append_byte_level(json, bytes, true);
        snprintf(token, sizeof token, "\": %d, ", b);
        strcat(json, token);
    }
    for (int m = 0; m < N_SMALL_MERGES; m++) {
        char bytes[64];
        snprintf(bytes, sizeof bytes, "%s%s", small_merges[m][0], small_merges[m][1]);
        strcat(json, "\"");
        append_byte_level(json, bytes, true);
        snprintf(token, sizeof token, "\": %d, ", 256 + m);
        strcat(json, token);
    }
    snprintf(token, sizeof token, "\"<|endoftext|>\": %d", SMALL_VOCAB - 1);
    strcat(json, token);
    strcat(json, extra_entries);
    strcat(json, "}");
    return json;
}

static char *small_merges_txt(const char *extra_lines, bool final_newline) {
    char *txt = malloc(1 << 12);
    strcpy(txt, "#version: 0.2\n");
    for (int m = 0; m < N_SMALL_MERGES; m++) {
        append_byte_level(txt, small_merges[m][0], false);
        strcat(txt, " ");
        append_byte_level(txt, small_merges[m][1], false);
        if (m + 1 < N_SMALL_MERGES || final_newline || extra_lines[0]) strcat(txt, "\n");
    }
    strcat(txt, extra_lines);
    return txt;
}

// Writes a small tokenizer into a new directory; the strings replace the
// default files when not NULL.
static const char *write_small(const char *name, const char *vocab, const char *merges) {
    const char *dir = new_dir(name);
    char *v = small_vocab_json("", -1), *m = small_merges_txt("", true);
    write_text(dir, "vocab.json", vocab ? vocab : v);
    write_text(dir, "merges.txt", merges ? merges : m);
    free(v);
    free(m);
    return dir;
}

// Loading dir must fail with a message holding both needles.
static void expect_load_error(const char *dir, const char *needle1, const char *needle2) {
    GPT2Tokenizer *tok = (GPT2Tokenizer *)&tok;   // must be reset to NULL
    Err err = {{0}};
    int rc = tokenizer_load(&tok, dir, &err);
    CHECK(rc == -1, "loading %s should fail", dir);
    CHECK(tok == NULL, "tok should be NULL after a failed load of %s", dir);
    CHECK(strstr(err.msg, needle1) && strstr(err.msg, needle2),
          "message for %s should name \"%s\" and \"%s\": \"%s\"", dir, needle1, needle2, err.msg);
    if (rc == 0) tokenizer_free(tok);
}

static bool ids_equal(const int *a, int na, const int *b, int nb) {
    return na == nb && memcmp(a, b, (size_t)na * sizeof *a) == 0;
}

static void format_ids(char *out, size_t cap, const int *ids, int n) {
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < n && used + 16 < cap; i++) used += (size_t)snprintf(out + used, cap - used, "%s%d", i ? " " : "", ids[i]);
}

// Encodes text (len bytes) and checks the ids.
static void expect_ids(GPT2Tokenizer *tok, const char *text, size_t len, const int *want, int n_want) {
    int ids[256], n = -1;
    Err err = {{0}};
    int rc = tokenizer_encode(tok, text, len, ids, 256, &n, &err);
    char got_s[1024], want_s[1024];
    format_ids(got_s, sizeof got_s, ids, rc == 0 ? n : 0);
    format_ids(want_s, sizeof want_s, want, n_want);
    CHECK(rc == 0 && ids_equal(ids, n, want, n_want), "encode \"%.*s\": got [%s] (%s), want [%s]",
          (int)len, text, got_s, rc == 0 ? "ok" : err.msg, want_s);
}
#define EXPECT_IDS(tok, text, ...)                                                     \
    do {                                                                               \
        const int want_[] = {__VA_ARGS__};                                             \
        expect_ids(tok, text, sizeof(text) - 1, want_, (int)(sizeof want_ / sizeof want_[0])); \
    } while (0)

// Two texts must encode to the same ids (for ill-formed UTF-8 against U+FFFD).
static void expect_same_ids(GPT2Tokenizer *tok, const char *a, size_t na, const char *b, size_t nb) {
    int ia[256], ib[256], n_a = -1, n_b = -2;
    Err err;
    CHECK(tokenizer_encode(tok, a, na, ia, 256, &n_a, &err) == 0, "%s", err.msg);
    CHECK(tokenizer_encode(tok, b, nb, ib, 256, &n_b, &err) == 0, "%s", err.msg);
    char sa[1024], sb[1024];
    format_ids(sa, sizeof sa, ia, n_a);
    format_ids(sb, sizeof sb, ib, n_b);
    CHECK(ids_equal(ia, n_a, ib, n_b), "\"%.*s\" gives [%s] but \"%.*s\" gives [%s]", (int)na, a, sa, (int)nb, b, sb);
}
#define EXPECT_SAME(tok, a, b) expect_same_ids(tok, a, sizeof(a) - 1, b, sizeof(b) - 1)

// decode(encode(text)) == text
static void expect_round_trip(GPT2Tokenizer *tok, const char *text, size_t len) {
    size_t max_ids = len + 1;
    int *ids = malloc(max_ids * sizeof *ids);
    char *out = malloc(len + 1);
    int n = 0;
    size_t out_len = 0;
    Err err = {{0}};
    int rc = tokenizer_encode(tok, text, len, ids, (int)max_ids, &n, &err);
    CHECK(rc == 0, "encode for the round trip of \"%.40s\": %s", text, err.msg);
    if (rc == 0) {
        rc = tokenizer_decode(tok, ids, n, out, len + 1, &out_len, &err);
        CHECK(rc == 0, "decode for the round trip of \"%.40s\": %s", text, err.msg);
        CHECK(rc != 0 || (out_len == len && memcmp(out, text, len) == 0 && out[len] == '\0'),
              "round trip of \"%.40s\" (%zu bytes) gave \"%.40s\" (%zu bytes)", text, len, out, out_len);
    }
    free(ids);
    free(out);
}
#define EXPECT_ROUND_TRIP(tok, text) expect_round_trip(tok, text, sizeof(text) - 1)

// ----------------------------------------------------------------------------
// part 1: small tokenizers written here

static void test_small_tokenizer(void) {
    const char *dir = write_small("small", NULL, NULL);
    GPT2Tokenizer *tok = NULL;
    Err err = {{0}};
    CHECK(tokenizer_load(&tok, dir, &err) == 0, "%s", err.msg);
    if (!tok) return;
    CHECK(tokenizer_vocab_size(tok) == SMALL_VOCAB, "vocab size %d", tokenizer_vocab_size(tok));
    EXPECT_IDS(tok, "hello world", ID_HELLO, ID_SPACE_WOR, 'l', 'd');
    EXPECT_IDS(tok, "aaa", ID_AA, 'a');            // left to right, no overlaps
    EXPECT_IDS(tok, "aaaa", ID_AA, ID_AA);
    EXPECT_IDS(tok, "\xC4\x80", 0xC4, 0x80);       // bytes, not characters
    CHECK(tokenizer_lookup(tok, "hello") == ID_HELLO, "lookup hello");
    CHECK(tokenizer_lookup(tok, "\xC4\xA0wor") == ID_SPACE_WOR, "lookup \\u0120wor");
    CHECK(tokenizer_lookup(tok, "\xC4\x80") == 0, "lookup \\u0100 (byte 0)");
    CHECK(tokenizer_lookup(tok, " wor") == -1, "a raw space is not byte-level form");
    CHECK(tokenizer_lookup(tok, "\xE4\xB8\xAD") == -1, "lookup of a character outside the byte-level alphabet");
    CHECK(tokenizer_lookup(tok, "") == -1, "lookup of the empty string");
    CHECK(tokenizer_lookup(tok, "<|endoftext|>") == SMALL_VOCAB - 1, "lookup <|endoftext|>");
    tokenizer_free(tok);

    // the other file names, a merges file without a final newline, CRLF lines
    char *v = small_vocab_json("", -1), *m = small_merges_txt("", false);
    const char *alt = new_dir("alt");
    write_text(alt, "encoder.json", v);
    write_text(alt, "vocab.bpe", m);
    tok = NULL;
    CHECK(tokenizer_load(&tok, alt, &err) == 0, "encoder.json + vocab.bpe without a final newline: %s", err.msg);
    if (tok) {
        EXPECT_IDS(tok, "aa", ID_AA);   // the last merge, on the line without a newline, counts
        tokenizer_free(tok);
    }
    free(m);
    m = small_merges_txt("", true);
    char crlf[1 << 12];
    size_t n = 0;
    for (const char *p = m; *p; p++) {
        if (*p == '\n') crlf[n++] = '\r';
        crlf[n++] = *p;
    }
    crlf[n] = '\0';
    const char *crlf_dir = write_small("crlf", NULL, crlf);
    tok = NULL;
    CHECK(tokenizer_load(&tok, crlf_dir, &err) == 0, "merges.txt with CRLF lines: %s", err.msg);
    if (tok) {
        EXPECT_IDS(tok, "hello", ID_HELLO);
        tokenizer_free(tok);
    }
    free(v);
    free(m);
}

static void test_load_errors(void) {
    char path[4300];
    path_in(path, sizeof path, root, "does-not-exist");
    expect_load_error(path, "does-not-exist", "vocab.json");

    char *good_vocab = small_vocab_json("", -1);
    char *good_merges = small_merges_txt("", true);

    // merges.txt missing
    const char *dir = new_dir("no-merges");
    write_text(dir, "vocab.json", good_vocab);
    expect_load_error(dir, "merges.txt", "cannot open");

    // corrupt JSON: the file cut in half
    char *half = strdup(good_vocab);
    half[strlen(half) / 2] = '\0';
    expect_load_error(write_small("cut-json", half, NULL), "vocab.json", "bad JSON");
    free(half);
    expect_load_error(write_small("empty-json", "", NULL), "vocab.json", "bad JSON");
    char *trailing = malloc(strlen(good_vocab) + 8);
    sprintf(trailing, "%s x\n", good_vocab);
    expect_load_error(write_small("trailing-json", trailing, NULL), "vocab.json", "bad JSON");
    sprintf(trailing, "%s \n", good_vocab);   // trailing white space is fine
    GPT2Tokenizer *tok = NULL;
    Err err = {{0}};
    CHECK(tokenizer_load(&tok, write_small("trailing-space", trailing, NULL), &err) == 0, "%s", err.msg);
    tokenizer_free(tok);
    free(trailing);
    expect_load_error(write_small("array-json", "[1, 2, 3]", NULL), "vocab.json", "not a JSON object");

    // the small tokenizer with vocab.json entries added (and byte skip, -1 none, left out) or a
    // line added to merges.txt: the message must name where the problem is and say what it is
    const struct { const char *name, *entries; int skip; const char *merge, *where, *says; } bad[] = {
        {"string-id", ", \"zz\": \"x\"", -1, "", "\"zz\"", "not a number"},
        {"fraction-id", ", \"zz\": 1.5", -1, "", "\"zz\"", "not an integer"},
        {"duplicate-id", ", \"zz\": 5", -1, "", "vocab.json", "id 5 is given to two tokens"},
        {"negative-id", ", \"zz\": -1", -1, "", "\"zz\"", "not an integer"},
        {"not-byte-level", ", \"\xE4\xB8\xAD\": 265", -1, "", "vocab.json", "not in byte-level form"}, // a raw CJK character
        {"missing-byte", ", \"zz\": 113", 'q', "", "vocab.json", "no token for the byte 0x71"}, // "zz" takes q's id
        {"wrong-size", ", \"zz\": 265", -1, "", "vocab.json", "266 tokens"},
        // merges.txt problems, with the line number
        {"three-parts", "", -1, "a b c\n", "merges.txt:10", "not two tokens"},
        {"one-part", "", -1, "abc\n", "merges.txt:10", "not two tokens"},
        {"unknown-part", "", -1, "q zzz\n", "merges.txt:10", "\"zzz\" is not in the vocabulary"},
        {"unknown-result", "", -1, "q q\n", "merges.txt:10", "merge of \"q\" and \"q\" is not in the vocabulary"},
        {"duplicate-merge", "", -1, "h e\n", "merges.txt:10", "appears twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *v = small_vocab_json(bad[i].entries, bad[i].skip), *m = small_merges_txt(bad[i].merge, true);
        expect_load_error(write_small(bad[i].name, v, m), bad[i].where, bad[i].says);
        free(v);
        free(m);
    }

    // <|endoftext|> missing (replaced by another token with the same id)
    char *v = small_vocab_json("", -1);
    char *eot = strstr(v, "<|endoftext|>");
    memcpy(eot, "<|something|>", 13);
    expect_load_error(write_small("no-eot", v, NULL), "vocab.json", "<|endoftext|> is missing");
    free(v);

    free(good_vocab);
    free(good_merges);
}

// ----------------------------------------------------------------------------
// part 2: the real GPT-2 tokenizer

static void test_known_encodings(GPT2Tokenizer *tok) {
    CHECK(tokenizer_vocab_size(tok) == 50257, "vocab size %d", tokenizer_vocab_size(tok));
    EXPECT_IDS(tok, "Hello world", 15496, 995);
    EXPECT_IDS(tok, " great", 1049);
    EXPECT_IDS(tok, " terrible", 7818);
    EXPECT_IDS(tok, "hello", 31373);
    // the special token as plain text is just text
    EXPECT_IDS(tok, "<|endoftext|>", 27, 91, 437, 1659, 5239, 91, 29);
    EXPECT_IDS(tok, "a   b", 64, 220, 220, 275);              // "a" "  " " b"
    EXPECT_IDS(tok, " \n \t  x", 220, 198, 220, 197, 220, 2124);
    EXPECT_IDS(tok, "I'M DON'T", 40, 6, 44, 23917, 6, 51);   // contractions are case-sensitive
    EXPECT_IDS(tok, "\xE2\x85\xAB\xC2\xB2", 158, 227, 104, 31185);   // U+216B U+00B2
    EXPECT_IDS(tok, "e\xCC\x81", 68, 136, 223);                      // e + U+0301
    int n = -1, ids[4];
    Err err;
    CHECK(tokenizer_encode(tok, "", 0, ids, 4, &n, &err) == 0 && n == 0, "empty text: n=%d", n);
    CHECK(tokenizer_encode(tok, NULL, 0, NULL, 0, &n, &err) == 0 && n == 0, "NULL empty text: n=%d", n);

    CHECK(tokenizer_lookup(tok, "\xC4\xA0great") == 1049, "lookup \\u0120great");
    CHECK(tokenizer_lookup(tok, "\xC4\xA0terrible") == 7818, "lookup \\u0120terrible");
    CHECK(tokenizer_lookup(tok, "<|endoftext|>") == GPT2_EOT, "lookup <|endoftext|>");
    CHECK(tokenizer_lookup(tok, "no-such-token-here") == -1, "lookup of a non-token");

    size_t len = 99;
    const char *bytes = tokenizer_token_bytes(tok, GPT2_EOT, &len);
    CHECK(bytes && len == 13 && memcmp(bytes, "<|endoftext|>", 13) == 0, "bytes of EOT");
    bytes = tokenizer_token_bytes(tok, 1049, &len);
    CHECK(bytes && len == 6 && memcmp(bytes, " great", 6) == 0, "bytes of 1049");
    bytes = tokenizer_token_bytes(tok, 188, &len);   // the token of byte 0x00
    CHECK(bytes && len == 1 && bytes[0] == 0, "bytes of 188");
    CHECK(tokenizer_token_bytes(tok, -1, &len) == NULL && len == 0, "id -1");
    CHECK(tokenizer_token_bytes(tok, 50257, &len) == NULL && len == 0, "id 50257");
}

static void test_never_eot(GPT2Tokenizer *tok) {
    const char *texts[] = {"<|endoftext|>", " <|endoftext|>", "<|endoftext|><|endoftext|>", "x<|endoftext|>\n"};
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        int ids[64], n = 0;
        Err err;
        CHECK(tokenizer_encode(tok, texts[t], strlen(texts[t]), ids, 64, &n, &err) == 0, "%s", err.msg);
        for (int i = 0; i < n; i++) CHECK(ids[i] != GPT2_EOT, "\"%s\" produced <|endoftext|>", texts[t]);
    }
}

static void test_round_trips(GPT2Tokenizer *tok) {
    EXPECT_ROUND_TRIP(tok, "Hello world");
    EXPECT_ROUND_TRIP(tok, "It's a truly, madly, deeply great film -- 10/10!!\n");
    EXPECT_ROUND_TRIP(tok, "caf\xC3\xA9 na\xC3\xAFve \xE4\xB8\xAD\xE6\x96\x87 \xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4 "
                           "\xF0\x9F\x98\x80 \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9");
    EXPECT_ROUND_TRIP(tok, "   leading and trailing   ");
    EXPECT_ROUND_TRIP(tok, "a\r\nb\tc\xC2\xA0" "d\xE3\x80\x80" "e\xEF\xBB\xBF" "f\xC2\x85g");
    EXPECT_ROUND_TRIP(tok, "nul\0inside");   // len-based: a NUL byte is text too
    EXPECT_ROUND_TRIP(tok, "\xEF\xBF\xBD");  // a real U+FFFD
    // one long piece: BPE must stay fast on it (the heap makes it O(n log n))
    size_t long_len = 200000;
    char *long_text = malloc(long_len);
    for (size_t i = 0; i < long_len; i++) long_text[i] = (char)('a' + (i * 7 + i / 13) % 26);
    clock_t t0 = clock();
    expect_round_trip(tok, long_text, long_len);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK(secs < 5.0, "a 200 kB piece took %.2f s", secs);
    memset(long_text, 'a', long_len);
    expect_round_trip(tok, long_text, long_len);
    free(long_text);
}

// Ill-formed UTF-8 reads as U+FFFD (EF BF BD) per maximal subpart, as in JavaScript.
static void test_ill_formed_utf8(GPT2Tokenizer *tok) {
    EXPECT_SAME(tok, "\x80", "\xEF\xBF\xBD");
    EXPECT_SAME(tok, "\xFF", "\xEF\xBF\xBD");
    EXPECT_SAME(tok, "a\x80" "b", "a\xEF\xBF\xBD" "b");
    EXPECT_SAME(tok, " \xFF", " \xEF\xBF\xBD");
    EXPECT_SAME(tok, "\xE2\x82", "\xEF\xBF\xBD");                 // truncated at the end: one
    EXPECT_SAME(tok, "\xE2\x82" "a", "\xEF\xBF\xBD" "a");
    EXPECT_SAME(tok, "\xF0\x9F\x98", "\xEF\xBF\xBD");
    EXPECT_SAME(tok, "\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD");    // overlong: C0 is never a lead byte
    EXPECT_SAME(tok, "\xE0\x80\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_SAME(tok, "\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");   // a surrogate
    EXPECT_SAME(tok, "\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_SAME(tok, "caf\xE9", "caf\xEF\xBF\xBD");
    EXPECT_SAME(tok, "\xC3" "a", "\xEF\xBF\xBD" "a");
    EXPECT_IDS(tok, "\xEF\xBF\xBD", 4210);
    EXPECT_IDS(tok, "\xED\xA0\x80", 48585);
    EXPECT_IDS(tok, "a\xFF" "b", 64, 4210, 65);
}

static void test_encode_decode_errors(GPT2Tokenizer *tok) {
    Err err = {{0}};
    int ids[8], n = -1;
    // ids that do not fit: an error, and n_ids says how many are needed
    CHECK(tokenizer_encode(tok, "Hello world", 11, ids, 1, &n, &err) == -1, "max_ids=1 should fail");
    CHECK(n == 2, "needed ids: n=%d", n);
    CHECK(strstr(err.msg, "max_ids") != NULL, "message: %s", err.msg);
    CHECK(tokenizer_encode(tok, "Hello", 5, NULL, 0, &n, &err) == -1 && n == 1, "max_ids=0: n=%d", n);
    CHECK(tokenizer_encode(tok, NULL, 3, ids, 8, &n, &err) == -1, "NULL text");
    CHECK(tokenizer_encode(tok, "x", 1, ids, 8, NULL, &err) == -1, "NULL n_ids");

    char out[32];
    size_t out_len = 99;
    const int good[] = {15496, 995};
    CHECK(tokenizer_decode(tok, good, 2, out, sizeof out, &out_len, &err) == 0 && out_len == 11 &&
          strcmp(out, "Hello world") == 0, "decode: %s", err.msg);
    const int bad_high[] = {15496, 50257};
    CHECK(tokenizer_decode(tok, bad_high, 2, out, sizeof out, &out_len, &err) == -1, "id 50257 should fail");
    CHECK(strstr(err.msg, "50257") && strstr(err.msg, "position 1"), "message: %s", err.msg);
    CHECK(out[0] == '\0' && out_len == 0, "out after a bad id");
    const int bad_low[] = {-1};
    CHECK(tokenizer_decode(tok, bad_low, 1, out, sizeof out, &out_len, &err) == -1, "id -1 should fail");
    // a short buffer: the 11 bytes and the NUL need 12
    CHECK(tokenizer_decode(tok, good, 2, out, 11, &out_len, &err) == -1, "cap 11 should fail");
    CHECK(out_len == 11 && out[0] == '\0', "needed bytes: %zu", out_len);
    CHECK(tokenizer_decode(tok, good, 2, out, 12, &out_len, &err) == 0 && out_len == 11, "cap 12: %s", err.msg);
    CHECK(tokenizer_decode(tok, good, 0, out, 1, &out_len, &err) == 0 && out_len == 0 && out[0] == '\0', "no ids");
    CHECK(tokenizer_decode(tok, good, 0, NULL, 0, &out_len, &err) == -1, "no room for the NUL");
}

// The cache must never change results: the same text gives the same ids
// cold, warm, and after the cache was cleared for being full.
static void test_cache(GPT2Tokenizer *tok, const char *dir) {
    const char *text = "The film's acting is great, the plot terrible; 12,345 viewers agreed. "
                       "Hello world! \xC3\xA9t\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80\xF0\x9F\x98\x80";
    size_t len = strlen(text);
    int cold[256], warm[256], after[256], n_cold = 0, n_warm = 0, n_after = 0;
    Err err;
    GPT2Tokenizer *fresh = NULL;
    CHECK(tokenizer_load(&fresh, dir, &err) == 0, "%s", err.msg);
    if (!fresh) return;
    CHECK(tokenizer_encode(fresh, text, len, cold, 256, &n_cold, &err) == 0, "%s", err.msg);
    CHECK(tokenizer_encode(fresh, text, len, warm, 256, &n_warm, &err) == 0, "%s", err.msg);
    CHECK(ids_equal(cold, n_cold, warm, n_warm), "a second encode differs from the first");

    // more distinct pieces than the cache holds (65,536), to make it clear itself
    char *many = malloc(100000 * 8);
    size_t used = 0;
    for (int i = 0; i < 100000; i++) {
        many[used++] = ' ';
        for (int k = i, d = 0; d < 5; d++, k /= 26) many[used++] = (char)('a' + k % 26);
    }
    int *many_ids = malloc(used * sizeof *many_ids), n_many = 0, n_many2 = 0;
    int *many_ids2 = malloc(used * sizeof *many_ids2);
    CHECK(tokenizer_encode(fresh, many, used, many_ids, (int)used, &n_many, &err) == 0, "%s", err.msg);
    CHECK(tokenizer_encode(fresh, text, len, after, 256, &n_after, &err) == 0, "%s", err.msg);
    CHECK(ids_equal(cold, n_cold, after, n_after), "encode after a cache clear differs");
    CHECK(tokenizer_encode(fresh, many, used, many_ids2, (int)used, &n_many2, &err) == 0, "%s", err.msg);
    CHECK(ids_equal(many_ids, n_many, many_ids2, n_many2), "the 100,000 words encode differently the second time");
    // and the same as a tokenizer that never saw them (tok has its own cache)
    CHECK(tokenizer_encode(tok, text, len, after, 256, &n_after, &err) == 0, "%s", err.msg);
    CHECK(ids_equal(cold, n_cold, after, n_after), "two tokenizers disagree");
    free(many);
    free(many_ids);
    free(many_ids2);
    tokenizer_free(fresh);
}

int main(void) {
    make_root();
    test_small_tokenizer();
    test_load_errors();
    remove_root(); // part 2 writes no files

    const char *dir = getenv("TOKENIZER_DIR");
    if (!dir || !dir[0]) dir = "models/gpt2-tokenizer";
    char probe[4200], probe2[4200];
    snprintf(probe, sizeof probe, "%s/vocab.json", dir);
    snprintf(probe2, sizeof probe2, "%s/encoder.json", dir);
    if (access(probe, R_OK) != 0 && access(probe2, R_OK) != 0) {
        if (failures) return test_finish();
        printf("part 1 passed (%d checks); no GPT-2 tokenizer in %s (make tokenizer)\n", checks, dir);
        return 77;
    }
    GPT2Tokenizer *tok = NULL;
    Err err = {{0}};
    int loaded = tokenizer_load(&tok, dir, &err) == 0;
    CHECK(loaded, "the GPT-2 tokenizer in %s: %s", dir, err.msg);
    if (!loaded) return test_finish();
    test_known_encodings(tok);
    test_never_eot(tok);
    test_round_trips(tok);
    test_ill_formed_utf8(tok);
    test_encode_decode_errors(tok);
    test_cache(tok, dir);
    tokenizer_free(tok);
    tokenizer_free(NULL);
    return test_finish();
}
