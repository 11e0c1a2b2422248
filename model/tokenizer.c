// model/tokenizer.c: exact GPT-2 byte-level BPE (the tokenizer section of
// model/gpt2.h).
//
// Encoding a text is three steps, as in OpenAI's encoder.py and the npm
// gpt-3-encoder package (our reference, see tests/t_tokenizer_js.sh):
//   1. pre-tokenisation: the text, read as Unicode code points, is cut into
//      pieces by the regex
//        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//      implemented by hand below (next_pretoken) with the character classes
//      generated from JavaScript itself (model/unicode_tables.c);
//   2. each piece's UTF-8 bytes start as one symbol per byte (the vocabulary
//      has a token for every byte, written in vocab.json through the
//      bytes_to_unicode map);
//   3. BPE: the adjacent pair with the lowest merge rank is merged everywhere
//      it occurs, left to right without overlaps, until no pair has a rank.
// The symbols are token ids throughout: merge ranks live in a hash map keyed
// by the pair of ids, so no strings are built while encoding. A cache maps
// recent pieces to their ids, since real text repeats its words.

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "model/gpt2.h"
#include "model/unicode_tables.h"

// ids are int in the API and int32_t inside
_Static_assert(sizeof(int) == sizeof(int32_t), "int must be 32 bits");

// ----------------------------------------------------------------------------
// sizes

#define EOT_STRING "<|endoftext|>"
#define MAX_VOCAB ((size_t)1 << 24)            // ids stay far from INT32_MAX
#define MAX_PIECE_BYTES ((size_t)1 << 28)      // one pre-token; BPE scratch uses int32 indices

// The piece cache: fixed-size tables allocated at load, cleared when full.
#define CACHE_MAX_ENTRIES ((size_t)1 << 16)
#define CACHE_SLOTS (CACHE_MAX_ENTRIES * 2)    // open addressing, load <= 1/2
#define CACHE_KEY_BYTES ((size_t)1 << 21)
#define CACHE_ID_CAPACITY ((size_t)1 << 19)
#define CACHE_MAX_KEY 256                      // longer pieces are rare: not cached

// vocab.json writes bytes as code points below this (bytes_to_unicode)
#define BYTE_LEVEL_CPS 0x144

// ----------------------------------------------------------------------------
// the tokenizer

typedef struct {
    uint64_t pair;     // (left id << 32) | right id
    int32_t rank;      // -1: empty slot
    int32_t merged;    // id of the merged token
} MergeSlot;

typedef struct {
    uint64_t hash;
    uint32_t key_off, key_len;   // in cache_keys
    uint32_t ids_off, n_ids;     // in cache_ids
} CacheEntry;

// One candidate merge of the adjacent symbols left and right into merged,
// valid while they still hold ids a and b and are still neighbours.
typedef struct {
    int32_t rank, left, right, a, b, merged;
} HeapEntry;

enum { CLASS_OTHER, CLASS_LETTER, CLASS_NUMBER, CLASS_SPACE };

struct GPT2Tokenizer {
    int n_vocab;
    uint8_t *token_bytes;          // every token's bytes, back to back
    uint32_t *token_off;           // (n_vocab) into token_bytes
    uint32_t *token_len;           // (n_vocab)
    int32_t *vocab_slots;          // open addressing: token bytes -> id, -1 empty
    size_t vocab_mask;
    int32_t byte_id[256];          // the token of each single byte
    int16_t cp_to_byte[BYTE_LEVEL_CPS]; // the byte a vocab.json character stands for, -1 none

    MergeSlot *merge_slots;        // open addressing: (id, id) -> rank, merged id
    size_t merge_mask;
    int n_merges;

    uint8_t low_class[256];        // character class of U+0000..U+00FF

    // piece cache
    uint32_t *cache_slots;         // (CACHE_SLOTS) entry index + 1, 0 empty
    CacheEntry *cache_entries;     // (CACHE_MAX_ENTRIES)
    uint8_t *cache_keys;           // (CACHE_KEY_BYTES)
    int32_t *cache_ids;            // (CACHE_ID_CAPACITY)
    size_t cache_n_entries, cache_key_used, cache_ids_used;

    // scratch of the BPE of one piece, grown to the longest piece seen
    size_t scratch_symbols;        // capacity in symbols
    int32_t *sym, *prev, *next;    // (scratch_symbols) linked list of symbols
    int32_t *word_ids;             // (scratch_symbols) BPE output
    HeapEntry *heap;               // (3 * scratch_symbols)
    HeapEntry *pending;            // (2 * scratch_symbols)
    uint8_t *piece;                // (scratch_piece) a piece re-encoded as valid UTF-8
    size_t scratch_piece;
};

// ----------------------------------------------------------------------------
// hashing

static uint64_t hash_bytes(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ull;   // FNV-1a
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static uint64_t hash_pair(uint64_t pair) {
    pair *= 0x9E3779B97F4A7C15ull;
    return pair ^ (pair >> 31);
}

static size_t pow2_at_least(size_t n) {
    size_t p = 16;
    while (p < n) p <<= 1;
    return p;
}

// ----------------------------------------------------------------------------
// bytes_to_unicode: the printable bytes stand for themselves, the other 68
// bytes are shifted to U+0100..U+0143, so every token is a printable string.

static bool byte_is_printable(int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

// cp_to_byte[cp] = the byte that code point cp stands for, -1 if none
static void build_unicode_to_byte(int16_t cp_to_byte[BYTE_LEVEL_CPS]) {
    for (int cp = 0; cp < BYTE_LEVEL_CPS; cp++) cp_to_byte[cp] = -1;
    int shifted = 0;
    for (int b = 0; b < 256; b++) {
        if (byte_is_printable(b)) cp_to_byte[b] = b;
        else cp_to_byte[256 + shifted++] = b;
    }
}

// ----------------------------------------------------------------------------
// UTF-8

// Reads the code point at s[pos] (pos < len) the way the WHATWG decoder does
// (JavaScript's TextDecoder, Node's Buffer.toString): an ill-formed sequence
// reads as one U+FFFD per maximal subpart, and *ill_formed is set. Returns the
// number of bytes consumed (>= 1).
static size_t utf8_next(const uint8_t *s, size_t len, size_t pos, uint32_t *cp, bool *ill_formed) {
    uint8_t b0 = s[pos];
    *ill_formed = false;
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;   // allowed range of the next byte
    uint32_t c;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1; c = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2; c = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0;   // no overlong forms
        if (b0 == 0xED) hi = 0x9F;   // no surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3; c = b0 & 0x07;
        if (b0 == 0xF0) lo = 0x90;   // no overlong forms
        if (b0 == 0xF4) hi = 0x8F;   // nothing above U+10FFFF
    } else {
        *cp = 0xFFFD; *ill_formed = true;
        return 1;
    }
    size_t i = 1;
    for (; need > 0; need--, i++) {
        // a byte out of range ends the subpart and is read again as a new start
        if (pos + i >= len || s[pos + i] < lo || s[pos + i] > hi) {
            *cp = 0xFFFD; *ill_formed = true;
            return i;
        }
        c = (c << 6) | (s[pos + i] & 0x3F);
        lo = 0x80; hi = 0xBF;
    }
    *cp = c;
    return i;
}

size_t gpt2_utf8_len(const void *bytes, size_t n) {
    uint32_t cp;
    bool bad;
    size_t len = utf8_next(bytes, n, 0, &cp, &bad);
    return bad ? 0 : len;
}

// Decodes a vocab.json / merges.txt string (UTF-8, byte-level form) into the
// bytes it stands for. Returns false on ill-formed UTF-8, on a character
// outside the byte-level alphabet, or when out (capacity cap) is too short.
static bool byte_level_decode(const int16_t cp_to_byte[BYTE_LEVEL_CPS], const uint8_t *s, size_t len,
                              uint8_t *out, size_t cap, size_t *out_len) {
    size_t n = 0;
    for (size_t pos = 0; pos < len;) {
        uint32_t cp;
        bool bad;
        pos += utf8_next(s, len, pos, &cp, &bad);
        if (bad || cp >= BYTE_LEVEL_CPS || cp_to_byte[cp] < 0 || n >= cap) return false;
        out[n++] = (uint8_t)cp_to_byte[cp];
    }
    *out_len = n;
    return true;
}

// ----------------------------------------------------------------------------
// character classes

static bool in_ranges(const UnicodeRange *r, size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;   // binary search for the first range with last >= cp
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r[mid].last < cp) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && r[lo].first <= cp;
}

static int class_of_slow(uint32_t cp) {
    if (in_ranges(unicode_letter_ranges, unicode_letter_count, cp)) return CLASS_LETTER;
    if (in_ranges(unicode_number_ranges, unicode_number_count, cp)) return CLASS_NUMBER;
    if (in_ranges(unicode_space_ranges, unicode_space_count, cp)) return CLASS_SPACE;
    return CLASS_OTHER;
}

static int class_of(const GPT2Tokenizer *tok, uint32_t cp) {
    return cp < 256 ? tok->low_class[cp] : class_of_slow(cp);
}

// ----------------------------------------------------------------------------
// pre-tokenisation

// Length of a contraction ('s 't 'm 'd 're 've 'll, case-sensitive) after
// an apostrophe at s[0], or 0. ASCII bytes are always whole code points.
static size_t contraction_len(const uint8_t *s, size_t len) {
    if (len >= 2) {
        uint8_t c = s[1];
        if (c == 's' || c == 't' || c == 'm' || c == 'd') return 2;
    }
    if (len >= 3) {
        if ((s[1] == 'r' && s[2] == 'e') || (s[1] == 'v' && s[2] == 'e') || (s[1] == 'l' && s[2] == 'l'))
            return 3;
    }
    return 0;
}

// End of the run of code points of class cls starting at pos.
static size_t run_end(const GPT2Tokenizer *tok, const uint8_t *s, size_t len, size_t pos, int cls,
                      bool *ill_formed) {
    while (pos < len) {
        uint32_t cp;
        bool bad;
        size_t n = utf8_next(s, len, pos, &cp, &bad);
        if (class_of(tok, cp) != cls) break;
        *ill_formed |= bad;
        pos += n;
    }
    return pos;
}

// The piece of text that the GPT-2 regex matches at pos (< len): the first
// alternative that matches wins, as in a JavaScript regex. Returns its end
// and sets *ill_formed if it holds ill-formed UTF-8.
static size_t next_pretoken(const GPT2Tokenizer *tok, const uint8_t *s, size_t len, size_t pos,
                            bool *ill_formed) {
    uint32_t c0;
    bool bad0;
    size_t n0 = utf8_next(s, len, pos, &c0, &bad0);
    *ill_formed = bad0;

    // 's|'t|'re|'ve|'m|'ll|'d
    if (c0 == '\'') {
        size_t k = contraction_len(s + pos, len - pos);
        if (k > 0) return pos + k;
    }

    // ' ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+': a space joins the run after it
    if (c0 == ' ' && pos + 1 < len) {
        uint32_t c1;
        bool bad1;
        size_t n1 = utf8_next(s, len, pos + 1, &c1, &bad1);
        int cls1 = class_of(tok, c1);
        if (cls1 != CLASS_SPACE) {
            *ill_formed = bad1;
            return run_end(tok, s, len, pos + 1 + n1, cls1, ill_formed);
        }
    }
    int cls0 = class_of(tok, c0);
    if (cls0 != CLASS_SPACE) return run_end(tok, s, len, pos + n0, cls0, ill_formed);

    // '\s+(?!\S)|\s+': a run of white space followed by a non-space leaves its
    // last character to that non-space ("a   b" -> "a", "  ", " b"), unless the
    // run is one character ("\nx" -> "\n", "x"); at the end of the text the
    // whole run is taken.
    size_t end = pos + n0, last_start = pos, count = 1;
    while (end < len) {
        uint32_t cp;
        bool bad;
        size_t n = utf8_next(s, len, end, &cp, &bad);
        if (class_of(tok, cp) != CLASS_SPACE) break;
        last_start = end;
        end += n;
        count++;
    }
    if (end < len && count >= 2) return last_start;
    return end;
}

// Writes s[pos..end) with each ill-formed subpart replaced by EF BF BD (the
// UTF-8 of U+FFFD) into out, which holds at least 3 * (end - pos) bytes.
static size_t reencode_piece(const uint8_t *s, size_t pos, size_t end, uint8_t *out) {
    size_t n = 0;
    while (pos < end) {
        uint32_t cp;
        bool bad;
        size_t k = utf8_next(s, end, pos, &cp, &bad);
        if (bad) {
            out[n++] = 0xEF; out[n++] = 0xBF; out[n++] = 0xBD;
        } else {
            memcpy(out + n, s + pos, k);
            n += k;
        }
        pos += k;
    }
    return n;
}

// ----------------------------------------------------------------------------
// vocabulary and merge maps

static int vocab_find(const GPT2Tokenizer *tok, const uint8_t *bytes, size_t n) {
    size_t i = (size_t)hash_bytes(bytes, n) & tok->vocab_mask;
    for (;; i = (i + 1) & tok->vocab_mask) {
        int32_t id = tok->vocab_slots[i];
        if (id < 0) return -1;
        if (tok->token_len[id] == n && memcmp(tok->token_bytes + tok->token_off[id], bytes, n) == 0)
            return id;
    }
}

// Inserts id (whose bytes are already in token_bytes); returns the id that
// already has these bytes, or -1 if they were new.
static int vocab_insert(GPT2Tokenizer *tok, int id) {
    const uint8_t *bytes = tok->token_bytes + tok->token_off[id];
    size_t n = tok->token_len[id];
    size_t i = (size_t)hash_bytes(bytes, n) & tok->vocab_mask;
    for (;; i = (i + 1) & tok->vocab_mask) {
        int32_t other = tok->vocab_slots[i];
        if (other < 0) {
            tok->vocab_slots[i] = id;
            return -1;
        }
        if (tok->token_len[other] == n && memcmp(tok->token_bytes + tok->token_off[other], bytes, n) == 0)
            return other;
    }
}

static const MergeSlot *merge_find(const GPT2Tokenizer *tok, int32_t a, int32_t b) {
    uint64_t pair = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t i = (size_t)hash_pair(pair) & tok->merge_mask;
    for (;; i = (i + 1) & tok->merge_mask) {
        const MergeSlot *slot = &tok->merge_slots[i];
        if (slot->rank < 0) return NULL;
        if (slot->pair == pair) return slot;
    }
}

// Returns false if the pair already has a rank.
static bool merge_insert(GPT2Tokenizer *tok, int32_t a, int32_t b, int32_t rank, int32_t merged) {
    uint64_t pair = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t i = (size_t)hash_pair(pair) & tok->merge_mask;
    for (;; i = (i + 1) & tok->merge_mask) {
        MergeSlot *slot = &tok->merge_slots[i];
        if (slot->rank < 0) {
            slot->pair = pair; slot->rank = rank; slot->merged = merged;
            return true;
        }
        if (slot->pair == pair) return false;
    }
}

// ----------------------------------------------------------------------------
// BPE of one piece

// Makes room for the BPE of a piece of n bytes.
static int ensure_scratch(GPT2Tokenizer *tok, size_t n) {
    if (n <= tok->scratch_symbols) return 0;
    size_t cap = tok->scratch_symbols ? tok->scratch_symbols : 64;
    while (cap < n) cap *= 2;
    int32_t *sym = realloc(tok->sym, cap * sizeof *sym);
    if (sym) tok->sym = sym;
    int32_t *prev = realloc(tok->prev, cap * sizeof *prev);
    if (prev) tok->prev = prev;
    int32_t *next = realloc(tok->next, cap * sizeof *next);
    if (next) tok->next = next;
    int32_t *word_ids = realloc(tok->word_ids, cap * sizeof *word_ids);
    if (word_ids) tok->word_ids = word_ids;
    HeapEntry *heap = realloc(tok->heap, 3 * cap * sizeof *heap);
    if (heap) tok->heap = heap;
    HeapEntry *pending = realloc(tok->pending, 2 * cap * sizeof *pending);
    if (pending) tok->pending = pending;
    if (!sym || !prev || !next || !word_ids || !heap || !pending) return -1;
    tok->scratch_symbols = cap;
    return 0;
}

static bool heap_less(const HeapEntry *x, const HeapEntry *y) {
    return x->rank < y->rank || (x->rank == y->rank && x->left < y->left);
}

static void heap_push(HeapEntry *heap, size_t *n, HeapEntry e) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_less(&e, &heap[parent])) break;
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i] = e;
}

// Moves e down from slot i to its place among the n entries.
static void heap_sift_down(HeapEntry *heap, size_t n, size_t i, HeapEntry e) {
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && heap_less(&heap[child + 1], &heap[child])) child++;
        if (!heap_less(&heap[child], &e)) break;
        heap[i] = heap[child];
        i = child;
    }
    heap[i] = e;
}

static HeapEntry heap_pop(HeapEntry *heap, size_t *n) {
    HeapEntry top = heap[0];
    (*n)--;
    if (*n > 0) heap_sift_down(heap, *n, 0, heap[*n]);
    return top;
}

// Orders n arbitrary entries into a heap (Floyd), O(n).
static void heap_build(HeapEntry *heap, size_t n) {
    for (size_t i = n / 2; i-- > 0;) heap_sift_down(heap, n, i, heap[i]);
}

// Appends the candidate merge of symbols left and right, if their pair has a rank.
static void add_candidate(const GPT2Tokenizer *tok, HeapEntry *list, size_t *n, int32_t left, int32_t right) {
    int32_t a = tok->sym[left], b = tok->sym[right];
    const MergeSlot *m = merge_find(tok, a, b);
    if (m) list[(*n)++] = (HeapEntry){m->rank, left, right, a, b, m->merged};
}

// BPE of the n >= 2 bytes of one piece into tok->word_ids; returns the count.
// Equivalent to the reference's loop (take the lowest-ranked pair, merge all
// its occurrences left to right without overlaps, repeat) in O(n log n):
// candidates wait in a heap ordered by (rank, position), and all candidates
// of the lowest rank are merged before the candidates those merges create
// are let in, so the order stays the reference's even for a merge list in
// which a new pair could outrank the pair that created it.
static size_t bpe_piece(GPT2Tokenizer *tok, const uint8_t *bytes, size_t n) {
    int32_t *sym = tok->sym, *prev = tok->prev, *next = tok->next;
    HeapEntry *heap = tok->heap;
    const int32_t end = (int32_t)n;   // next[] of the last symbol
    for (int32_t i = 0; i < end; i++) {
        sym[i] = tok->byte_id[bytes[i]];
        prev[i] = i - 1;
        next[i] = i + 1;
    }
    size_t heap_len = 0;
    for (int32_t i = 0; i + 1 < end; i++) add_candidate(tok, heap, &heap_len, i, i + 1);
    heap_build(heap, heap_len);

    while (heap_len > 0) {
        int32_t rank = heap[0].rank;
        size_t pending_len = 0;
        while (heap_len > 0 && heap[0].rank == rank) {
            HeapEntry e = heap_pop(heap, &heap_len);
            // stale if either symbol was merged away or changed since
            if (sym[e.left] != e.a || sym[e.right] != e.b || next[e.left] != e.right) continue;
            sym[e.left] = e.merged;
            sym[e.right] = -1;
            next[e.left] = next[e.right];
            if (next[e.left] < end) prev[next[e.left]] = e.left;
            if (prev[e.left] >= 0) add_candidate(tok, tok->pending, &pending_len, prev[e.left], e.left);
            if (next[e.left] < end) add_candidate(tok, tok->pending, &pending_len, e.left, next[e.left]);
        }
        for (size_t i = 0; i < pending_len; i++) heap_push(heap, &heap_len, tok->pending[i]);
    }

    size_t count = 0;
    for (int32_t i = 0; i < end; i = next[i]) tok->word_ids[count++] = sym[i];
    return count;
}

// ----------------------------------------------------------------------------
// piece cache

static void cache_clear(GPT2Tokenizer *tok) {
    memset(tok->cache_slots, 0, CACHE_SLOTS * sizeof *tok->cache_slots);
    tok->cache_n_entries = tok->cache_key_used = tok->cache_ids_used = 0;
}

static const CacheEntry *cache_find(const GPT2Tokenizer *tok, const uint8_t *key, size_t n, uint64_t hash) {
    size_t mask = CACHE_SLOTS - 1;
    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        uint32_t slot = tok->cache_slots[i];
        if (slot == 0) return NULL;
        const CacheEntry *e = &tok->cache_entries[slot - 1];
        if (e->hash == hash && e->key_len == n && memcmp(tok->cache_keys + e->key_off, key, n) == 0) return e;
    }
}

// Remembers the ids of a piece not yet in the cache; when any table is full
// the whole cache is dropped (a bound on memory; real text refills it fast).
static void cache_insert(GPT2Tokenizer *tok, const uint8_t *key, size_t n, uint64_t hash,
                         const int32_t *ids, size_t n_ids) {
    if (n > CACHE_MAX_KEY) return;
    if (tok->cache_n_entries == CACHE_MAX_ENTRIES || tok->cache_key_used + n > CACHE_KEY_BYTES ||
        tok->cache_ids_used + n_ids > CACHE_ID_CAPACITY)
        cache_clear(tok);
    CacheEntry *e = &tok->cache_entries[tok->cache_n_entries];
    e->hash = hash;
    e->key_off = (uint32_t)tok->cache_key_used;
    e->key_len = (uint32_t)n;
    e->ids_off = (uint32_t)tok->cache_ids_used;
    e->n_ids = (uint32_t)n_ids;
    memcpy(tok->cache_keys + tok->cache_key_used, key, n);
    memcpy(tok->cache_ids + tok->cache_ids_used, ids, n_ids * sizeof *ids);
    tok->cache_key_used += n;
    tok->cache_ids_used += n_ids;
    size_t mask = CACHE_SLOTS - 1;
    size_t i = (size_t)hash & mask;
    while (tok->cache_slots[i] != 0) i = (i + 1) & mask;
    tok->cache_slots[i] = (uint32_t)(++tok->cache_n_entries);
}

// ----------------------------------------------------------------------------
// encode

// The ids of one piece (valid UTF-8 bytes): *ids points at them, valid until
// the next call. Returns -1 only when out of memory.
static int encode_piece(GPT2Tokenizer *tok, const uint8_t *bytes, size_t n, const int32_t **ids, size_t *n_ids) {
    if (n == 1) {
        *ids = &tok->byte_id[bytes[0]];
        *n_ids = 1;
        return 0;
    }
    uint64_t hash = hash_bytes(bytes, n);
    const CacheEntry *hit = cache_find(tok, bytes, n, hash);
    if (hit) {
        *ids = tok->cache_ids + hit->ids_off;
        *n_ids = hit->n_ids;
        return 0;
    }
    if (ensure_scratch(tok, n) != 0) return -1;
    *n_ids = bpe_piece(tok, bytes, n);
    *ids = tok->word_ids;
    cache_insert(tok, bytes, n, hash, tok->word_ids, *n_ids);
    return 0;
}

int tokenizer_encode(GPT2Tokenizer *tok, const char *text, size_t len,
                     int *ids, int max_ids, int *n_ids, Err *err) {
    if (n_ids) *n_ids = 0;
    if (!tok || !n_ids || (!text && len > 0) || (!ids && max_ids > 0))
        return err_fail(err, "tokenizer_encode: NULL argument");
    const uint8_t *s = (const uint8_t *)text;
    size_t count = 0, cap = max_ids > 0 ? (size_t)max_ids : 0;
    for (size_t pos = 0; pos < len;) {
        bool ill_formed;
        size_t end = next_pretoken(tok, s, len, pos, &ill_formed);
        const uint8_t *piece = s + pos;
        size_t piece_len = end - pos;
        if (piece_len > MAX_PIECE_BYTES)
            return err_fail(err, "tokenizer_encode: a piece of %zu bytes without a break is too long", piece_len);
        if (ill_formed) {
            // JavaScript sees U+FFFD there, and BPE works on its UTF-8
            if (tok->scratch_piece < 3 * piece_len) {
                uint8_t *p = realloc(tok->piece, 3 * piece_len);
                if (!p) return err_fail(err, "tokenizer_encode: out of memory");
                tok->piece = p;
                tok->scratch_piece = 3 * piece_len;
            }
            piece_len = reencode_piece(s, pos, end, tok->piece);
            piece = tok->piece;
        }
        const int32_t *piece_ids;
        size_t n_piece_ids;
        if (encode_piece(tok, piece, piece_len, &piece_ids, &n_piece_ids) != 0)
            return err_fail(err, "tokenizer_encode: out of memory");
        // when the ids do not fit, go on counting so the error can say how many are needed
        if (count + n_piece_ids <= cap)
            memcpy(ids + count, piece_ids, n_piece_ids * sizeof *ids);
        count += n_piece_ids;
        pos = end;
    }
    if (count > (size_t)INT32_MAX) return err_fail(err, "tokenizer_encode: text gives more than 2^31 ids");
    if (count > cap) {
        *n_ids = (int)count;   // like snprintf: the count needed
        return err_fail(err, "tokenizer_encode: the text needs %zu ids but max_ids is %d", count, max_ids);
    }
    *n_ids = (int)count;
    return 0;
}

// ----------------------------------------------------------------------------
// decode and look-ups

int tokenizer_vocab_size(const GPT2Tokenizer *tok) {
    return tok ? tok->n_vocab : 0;
}

const char *tokenizer_token_bytes(const GPT2Tokenizer *tok, int id, size_t *len) {
    if (!tok || id < 0 || id >= tok->n_vocab) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = tok->token_len[id];
    return (const char *)tok->token_bytes + tok->token_off[id];
}

int tokenizer_decode(const GPT2Tokenizer *tok, const int *ids, int n,
                     char *out, size_t cap, size_t *out_len, Err *err) {
    if (out_len) *out_len = 0;
    if (out && cap > 0) out[0] = '\0';
    if (!tok || !out_len || (!ids && n > 0) || (!out && cap > 0))
        return err_fail(err, "tokenizer_decode: NULL argument");
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= tok->n_vocab)
            return err_fail(err, "tokenizer_decode: id %d at position %d is outside the vocabulary [0, %d)",
                             ids[i], i, tok->n_vocab);
        total += tok->token_len[ids[i]];
    }
    if (total + 1 > cap) {
        *out_len = total;   // like snprintf: the bytes needed, without the NUL
        return err_fail(err, "tokenizer_decode: %zu bytes and a NUL do not fit in a buffer of %zu", total, cap);
    }
    size_t pos = 0;
    for (int i = 0; i < n; i++) {
        memcpy(out + pos, tok->token_bytes + tok->token_off[ids[i]], tok->token_len[ids[i]]);
        pos += tok->token_len[ids[i]];
    }
    out[pos] = '\0';
    *out_len = pos;
    return 0;
}

int tokenizer_lookup(const GPT2Tokenizer *tok, const char *vocab_string) {
    if (!tok || !vocab_string) return -1;
    uint8_t bytes[512];
    size_t n;
    // every byte-level character is at least one UTF-8 byte, so a string
    // longer than 512 bytes is never a token of up to 512 bytes
    if (!byte_level_decode(tok->cp_to_byte, (const uint8_t *)vocab_string, strlen(vocab_string), bytes, sizeof bytes, &n))
        return -1;
    return vocab_find(tok, bytes, n);
}

// ----------------------------------------------------------------------------
// loading

// A short, one-line excerpt of a bad token or line for an error message:
// at most 48 bytes, control characters shown as '?'.
typedef struct {
    char text[56];
} Excerpt;

static Excerpt excerpt(const char *s, size_t n) {
    Excerpt e;
    size_t k = n < 48 ? n : 48;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s[i];
        e.text[i] = c < 0x20 || c == 0x7F ? '?' : (char)c;
    }
    strcpy(e.text + k, n > k ? "..." : "");
    return e;
}

static bool file_exists(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

// Fills the vocabulary from vocab.json (an object "token": id) with ids
// exactly 0..n-1, each token in byte-level form and unique.
static int load_vocab(GPT2Tokenizer *tok, const char *path,
                      const char *json_text, size_t json_len, Err *err) {
    // json_text is NUL-terminated: with the NUL in the length, cJSON also
    // rejects anything but white space after the object
    const char *parse_end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json_text, json_len + 1, &parse_end, 1);
    if (!root) {
        size_t at = parse_end && parse_end >= json_text ? (size_t)(parse_end - json_text) : 0;
        return err_fail(err, "%s: bad JSON near byte %zu", path, at);
    }
    int rc = -1;
    if (!cJSON_IsObject(root)) { err_fail(err, "%s: not a JSON object", path); goto done; }
    size_t n = 0, chars = 0;
    for (const cJSON *it = root->child; it; it = it->next) {
        n++;
        chars += strlen(it->string);
    }
    if (n < 257 || n > MAX_VOCAB) {
        err_fail(err, "%s: %zu tokens (want 256 bytes, the merges and " EOT_STRING ")", path, n);
        goto done;
    }
    tok->n_vocab = (int)n;
    tok->token_bytes = malloc(chars + 1);
    tok->token_off = malloc(n * sizeof *tok->token_off);
    tok->token_len = malloc(n * sizeof *tok->token_len);
    size_t slots = pow2_at_least(2 * n);
    tok->vocab_slots = malloc(slots * sizeof *tok->vocab_slots);
    tok->vocab_mask = slots - 1;
    if (!tok->token_bytes || !tok->token_off || !tok->token_len || !tok->vocab_slots) {
        err_fail(err, "%s: out of memory", path);
        goto done;
    }
    memset(tok->vocab_slots, 0xFF, slots * sizeof *tok->vocab_slots);   // all -1
    for (size_t i = 0; i < n; i++) tok->token_len[i] = UINT32_MAX;       // id not seen yet

    size_t used = 0;
    for (const cJSON *it = root->child; it; it = it->next) {
        if (!cJSON_IsNumber(it)) {
            err_fail(err, "%s: token \"%s\" has a value that is not a number", path,
                      excerpt(it->string, strlen(it->string)).text);
            goto done;
        }
        double v = it->valuedouble;
        if (!(v >= 0 && v < (double)n) || v != (double)(int)v) {   // (NaN fails the first test)
            err_fail(err, "%s: token \"%s\" has id %g, not an integer in [0, %zu)", path,
                      excerpt(it->string, strlen(it->string)).text, v, n);
            goto done;
        }
        int id = (int)v;
        if (tok->token_len[id] != UINT32_MAX) {
            err_fail(err, "%s: id %d is given to two tokens", path, id);
            goto done;
        }
        size_t len;
        if (!byte_level_decode(tok->cp_to_byte, (const uint8_t *)it->string, strlen(it->string),
                               tok->token_bytes + used, chars - used, &len) || len == 0) {
            err_fail(err, "%s: token \"%s\" is empty or not in byte-level form", path,
                      excerpt(it->string, strlen(it->string)).text);
            goto done;
        }
        tok->token_off[id] = (uint32_t)used;
        tok->token_len[id] = (uint32_t)len;
        used += len;
        if (vocab_insert(tok, id) >= 0) {
            err_fail(err, "%s: token \"%s\" appears twice", path, excerpt(it->string, strlen(it->string)).text);
            goto done;
        }
    }
    for (int b = 0; b < 256; b++) {
        uint8_t byte = (uint8_t)b;
        tok->byte_id[b] = vocab_find(tok, &byte, 1);
        if (tok->byte_id[b] < 0) {
            err_fail(err, "%s: no token for the byte 0x%02X", path, b);
            goto done;
        }
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

// One line of merges.txt: two tokens separated by spaces. Returns the number
// of fields found (at most 3 are looked for) with their spans.
static int split_merge_line(const char *line, size_t len, const char *field[3], size_t field_len[3]) {
    int n = 0;
    size_t i = 0;
    while (n < 3) {
        while (i < len && (line[i] == ' ' || line[i] == '\t')) i++;
        if (i == len) break;
        size_t start = i;
        while (i < len && line[i] != ' ' && line[i] != '\t') i++;
        field[n] = line + start;
        field_len[n] = i - start;
        n++;
    }
    return n;
}

// Reads merges.txt: a "#version" first line, then one merge per line in rank
// order (blank lines, such as the one after a final newline, are skipped).
// Both parts and their concatenation must be tokens.
static int load_merges(GPT2Tokenizer *tok, const char *path,
                       const char *text, size_t len, Err *err) {
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    size_t slots = pow2_at_least(2 * lines);
    tok->merge_slots = malloc(slots * sizeof *tok->merge_slots);
    if (!tok->merge_slots) return err_fail(err, "%s: out of memory", path);
    tok->merge_mask = slots - 1;
    for (size_t i = 0; i < slots; i++) tok->merge_slots[i].rank = -1;

    size_t max_token = 0;
    for (int id = 0; id < tok->n_vocab; id++)
        if (tok->token_len[id] > max_token) max_token = tok->token_len[id];
    uint8_t *buf = malloc(2 * max_token + 2);   // a part, then part + part
    if (!buf) return err_fail(err, "%s: out of memory", path);

    int rc = -1;
    int32_t rank = 0;
    size_t line_no = 0;
    for (size_t pos = 0; pos < len;) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - line) : len - pos;
        pos += line_len + (nl ? 1 : 0);
        line_no++;
        if (line_len > 0 && line[line_len - 1] == '\r') line_len--;
        if (line_no == 1 && line_len >= 8 && memcmp(line, "#version", 8) == 0) continue;
        const char *field[3];
        size_t field_len[3];
        int n_fields = split_merge_line(line, line_len, field, field_len);
        if (n_fields == 0) continue;
        if (n_fields != 2) {
            err_fail(err, "%s:%zu: \"%s\" is not two tokens separated by a space", path, line_no,
                      excerpt(line, line_len).text);
            goto done;
        }
        int32_t part[2];
        size_t part_len[2];
        for (int k = 0; k < 2; k++) {
            size_t offset = k == 0 ? 0 : part_len[0];
            part[k] = -1;
            if (byte_level_decode(tok->cp_to_byte, (const uint8_t *)field[k], field_len[k],
                                  buf + offset, max_token, &part_len[k]))
                part[k] = vocab_find(tok, buf + offset, part_len[k]);
            if (part[k] < 0) {
                err_fail(err, "%s:%zu: \"%s\" is not in the vocabulary", path, line_no,
                          excerpt(field[k], field_len[k]).text);
                goto done;
            }
        }
        int32_t merged = vocab_find(tok, buf, part_len[0] + part_len[1]);
        if (merged < 0) {
            err_fail(err, "%s:%zu: the merge of \"%s\" and \"%s\" is not in the vocabulary", path, line_no,
                      excerpt(field[0], field_len[0]).text, excerpt(field[1], field_len[1]).text);
            goto done;
        }
        if (!merge_insert(tok, part[0], part[1], rank, merged)) {
            err_fail(err, "%s:%zu: the merge \"%s\" appears twice", path, line_no, excerpt(line, line_len).text);
            goto done;
        }
        rank++;
    }
    tok->n_merges = rank;
    rc = 0;
done:
    free(buf);
    return rc;
}

// GPT-2's vocabulary is the 256 bytes, one token per merge and <|endoftext|>
// last; a different count means files that do not belong together.
static int check_vocab_size(const GPT2Tokenizer *tok, const char *vocab_path, Err *err) {
    size_t want = 256 + (size_t)tok->n_merges + 1;
    if ((size_t)tok->n_vocab != want)
        return err_fail(err, "%s: %d tokens, but 256 bytes + %d merges + " EOT_STRING " make %zu",
                         vocab_path, tok->n_vocab, tok->n_merges, want);
    int eot = vocab_find(tok, (const uint8_t *)EOT_STRING, strlen(EOT_STRING));
    if (eot != tok->n_vocab - 1)
        return err_fail(err, "%s: " EOT_STRING " is %s, not the last id %d", vocab_path,
                         eot < 0 ? "missing" : "elsewhere", tok->n_vocab - 1);
    return 0;
}

static int alloc_cache(GPT2Tokenizer *tok) {
    tok->cache_slots = calloc(CACHE_SLOTS, sizeof *tok->cache_slots);
    tok->cache_entries = malloc(CACHE_MAX_ENTRIES * sizeof *tok->cache_entries);
    tok->cache_keys = malloc(CACHE_KEY_BYTES);
    tok->cache_ids = malloc(CACHE_ID_CAPACITY * sizeof *tok->cache_ids);
    return tok->cache_slots && tok->cache_entries && tok->cache_keys && tok->cache_ids ? 0 : -1;
}

int tokenizer_load(GPT2Tokenizer **out, const char *dir, Err *err) {
    if (!out) return err_fail(err, "tokenizer_load: NULL argument");
    *out = NULL;
    if (!dir) return err_fail(err, "tokenizer_load: NULL directory");
    // Hugging Face names first, then OpenAI's (the same files under other names)
    char vocab_path[4096], merges_path[4096];
    snprintf(vocab_path, sizeof vocab_path, "%s/vocab.json", dir);
    snprintf(merges_path, sizeof merges_path, "%s/merges.txt", dir);
    if (!file_exists(vocab_path)) {
        char alt_vocab[4096];
        snprintf(alt_vocab, sizeof alt_vocab, "%s/encoder.json", dir);
        if (!file_exists(alt_vocab))
            return err_fail(err, "%s: no vocab.json (or encoder.json): %s", dir, strerror(errno));
        snprintf(vocab_path, sizeof vocab_path, "%s", alt_vocab);
        snprintf(merges_path, sizeof merges_path, "%s/vocab.bpe", dir);
    }

    GPT2Tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) return err_fail(err, "tokenizer_load: out of memory");
    build_unicode_to_byte(tok->cp_to_byte);
    for (uint32_t cp = 0; cp < 256; cp++) tok->low_class[cp] = (uint8_t)class_of_slow(cp);

    char *vocab_text = NULL, *merges_text = NULL;
    size_t vocab_len = 0, merges_len = 0;
    int rc = util_read_file(vocab_path, &vocab_text, &vocab_len, err);
    if (rc == 0) rc = load_vocab(tok, vocab_path, vocab_text, vocab_len, err);
    free(vocab_text);
    if (rc == 0) rc = util_read_file(merges_path, &merges_text, &merges_len, err);
    if (rc == 0) rc = load_merges(tok, merges_path, merges_text, merges_len, err);
    free(merges_text);
    if (rc == 0) rc = check_vocab_size(tok, vocab_path, err);
    if (rc == 0 && alloc_cache(tok) != 0) rc = err_fail(err, "tokenizer_load: out of memory");
    if (rc != 0) {
        tokenizer_free(tok);
        return -1;
    }
    *out = tok;
    return 0;
}

void tokenizer_free(GPT2Tokenizer *tok) {
    if (!tok) return;
    free(tok->token_bytes);
    free(tok->token_off);
    free(tok->token_len);
    free(tok->vocab_slots);
    free(tok->merge_slots);
    free(tok->cache_slots);
    free(tok->cache_entries);
    free(tok->cache_keys);
    free(tok->cache_ids);
    free(tok->sym);
    free(tok->prev);
    free(tok->next);
    free(tok->word_ids);
    free(tok->heap);
    free(tok->pending);
    free(tok->piece);
    free(tok);
}
