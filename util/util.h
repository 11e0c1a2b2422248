/*
 * util/util.h: the contract of util/, the small things every layer shares.
 *
 * One home each for: the error type and its formatting, reading a whole
 * file or stream, writing files so that a crash never publishes a partial
 * one, mkdir -p, the seeded random generator, reading tab-separated tables,
 * the zlib frame (a payload compressed with its CRC32 and length), the clocks
 * and growable arrays. Every other folder may use util/; util/ uses nothing
 * of theirs (the layering is util <- model <- tuners <- sweep -> mpi, results,
 * with mpi/ and results/ also on util/ alone).
 *
 * util/record.h, beside this header, is the result record's schema: the keys
 * that tuners/ writes and sweep/ and results/ read, defined once.
 *
 * Errors: a function that can fail returns 0 on success and -1 on error, with
 * a one-line message in an Err (which file, what, why). Nothing here exits or
 * prints.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

// ----------------------------------------------------------------------------
// errors (err.c)

/* The one error type of the project: a message a user can act on. */
typedef struct {
    char msg[1024];
} Err;

/* printf-style: fills err->msg (if err is not NULL) and returns -1. The message
 * is one printable line: control characters (from a file name, a key, a text
 * it quotes) become '?', so that a message never moves a terminal's cursor
 * nor splits a log line. */
int err_fail(Err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Control characters (bytes < 0x20 and 0x7F) of s replaced by '?' in place. */
void err_one_line(char *s);

// ----------------------------------------------------------------------------
// files (file.c)

/* Reads a whole regular file (at most 1 GiB) into a malloc'd, NUL-terminated
 * buffer; *size gets its length. Anything but a regular file (a FIFO, a
 * directory, a device) is an error at once, never waited on. *data is NULL
 * on error. */
int util_read_file(const char *path, char **data, size_t *size, Err *err);

/* Reads a stream to its end (standard input, a pipe) into a malloc'd,
 * NUL-terminated buffer; *size gets its length. name is what the messages
 * call the stream ("standard input"); more than max_bytes is an error
 * (SIZE_MAX: no limit but memory). *data is NULL on error. */
int util_read_stream(FILE *f, const char *name, size_t max_bytes, char **data, size_t *size, Err *err);

/* write(2) until all n bytes are written (EINTR retried); -1 with errno set. */
int util_write_all(int fd, const void *buf, size_t n);

/* mkdir -p (mode 0777 before the umask); an existing directory is fine. */
int util_make_dirs(const char *dir, Err *err);

/* fsync of a directory, so that the renames in it are durable. */
int util_sync_dir(const char *dir, Err *err);

/* One file written as DIR/.NAME.XXXXXX (mode 0666 less the umask), then
 * published by a rename to DIR/NAME: readers see the old file or the new one,
 * never a part. temp_close fsyncs, so the rename never publishes a file whose
 * data is not on disk; temp_discard removes what is left after a failure and
 * is safe to call at any point (also after temp_publish). */
typedef struct {
    char tmp[4096], final[4096];
    int fd;
    int exists;   // tmp is on disk and must be removed on failure
} TempFile;

int temp_open(TempFile *f, const char *dir, const char *name, Err *err);
int temp_write(TempFile *f, const void *buf, size_t n, Err *err);
int temp_close(TempFile *f, Err *err);
int temp_publish(TempFile *f, Err *err);
void temp_discard(TempFile *f);

/* path written whole through a TempFile in its directory, then the directory
 * fsynced. */
int util_write_file_atomic(const char *path, const void *data, size_t len, Err *err);

// ----------------------------------------------------------------------------
// random numbers (rng.c): splitmix64 (a full-period 64-bit generator that
// passes BigCrush) and Box-Muller, self-contained so that a seed means the
// same numbers on every machine with the same libm.

/* splitmix64: the next output of the 64-bit state *state, which advances. */
uint64_t splitmix64(uint64_t *state);

typedef struct {
    uint64_t s;
    int have_spare;   // rng_normal's second value of a Box-Muller pair
    double spare;
} Rng;

void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_u64(Rng *r);       // splitmix64
double rng_uniform(Rng *r);     // [0, 1), 53 random bits
int rng_below(Rng *r, int n);   // [0, n), n > 0
double rng_normal(Rng *r);      // N(0, 1); Box-Muller, the pair's second value kept for the next call

// ----------------------------------------------------------------------------
// tab-separated tables (tsv.c): the data splits (sentence<TAB>label) and any
// table with a text column

/* Reads a TSV file's buffer in place: a header line naming the columns, then
 * one row per line. The rules, those of the GLUE and few-shot files as pandas
 * reads them:
 *  - a UTF-8 BOM before the header is skipped; lines end in LF or CRLF (the
 *    last may lack it); a NUL byte is refused: not a text file;
 *  - one column, named "sentence" or "text", is the text (a header with none
 *    or with more than one is refused). Only it may hold tabs: a row's fields
 *    before it end at the row's first tabs, those after it at its last tabs,
 *    so sentence<TAB>label splits at the last tab. A row has at least the
 *    header's number of fields;
 *  - a line of nothing but spaces and tabs (or nothing) is no row;
 *  - a text wrapped in double quotes with every quote inside doubled is
 *    unquoted ("" becomes "); any other quote belongs to the text. The other
 *    fields and the column names are taken as they are.
 * Errors name the file, and a row's line. */
typedef struct {
    const char *path;      // for messages
    char *cursor, *end;    // the lines not read yet
    size_t line_no;        // of the line read last (1: the header)
    int n_cols;            // the header's fields: every row's
    int text_col;          // the text column
    char **fields;         // (n_cols) the column names after tsv_open, the row's fields after
                           // tsv_next_row: NUL-terminated, in the buffer
} TsvReader;

/* Starts on buf (len bytes and a NUL after them, as util_read_file gives),
 * which is cut in place and must outlive the reader: reads the header. */
int tsv_open(TsvReader *r, char *buf, size_t len, const char *path, Err *err);
/* The next row into r->fields: 1, 0 at the end of the file, or -1 (a row
 * with too few fields). */
int tsv_next_row(TsvReader *r, Err *err);
/* Frees the reader's fields; accepts a zeroed or failed reader. */
void tsv_close(TsvReader *r);

// ----------------------------------------------------------------------------
// the zlib frame (zframe.c): a payload as a zlib stream, with the CRC32 and the
// length of its raw bytes beside it. The farm's results travel in it (mpi/) and
// the journal keeps them as received (results/); how the three numbers are laid
// out is the user's. Every message starts "zlib frame: ".

/* CRC32 (zlib's: that of gzip and PNG) of len bytes, continuing from crc (0 to
 * start): the CRC of a then b is zframe_crc32(zframe_crc32(0, a, na), b, nb). */
uint32_t zframe_crc32(uint32_t crc, const void *data, size_t len);

/* src (len bytes; NULL when len is 0) compressed into a malloc'd zlib stream
 * *dst of *dst_len bytes; *crc32: the CRC32 of src. */
int zframe_compress(const void *src, size_t len, void **dst, size_t *dst_len, uint32_t *crc32, Err *err);

/* The zlib stream src (len bytes) inflated into a malloc'd *dst: it must give
 * exactly raw_len bytes whose CRC32 is crc32 and end where src ends, else an
 * error says which (truncated, corrupt, longer or shorter, stray bytes, CRC32
 * mismatch) and *dst is NULL. A NUL follows the raw_len bytes (text comes out
 * as a C string). A raw_len more than deflate can make of len bytes is
 * refused before anything is allocated. */
int zframe_decompress(const void *src, size_t len, size_t raw_len, uint32_t crc32, void **dst, Err *err);

// ----------------------------------------------------------------------------
// clocks (clock.c)

double util_now(void);           // seconds on the monotonic clock (intervals only)
double util_cpu_seconds(void);   // CPU seconds (user + system) this process has used

// ----------------------------------------------------------------------------
// numbers (number.c)

/* x to 6 significant digits: values a sweep computes (grid ranges, refined λs) read well in
 * records and tables ("0.0316228", not "0.031622776601683791"), and a last-bit difference
 * between two libm's exp or sqrt cannot change a point (printf and strtod round correctly). */
double util_six_digits(double x);

// ----------------------------------------------------------------------------
// growable arrays (grow.c)

/* Room for one more item in an array of n items with room for *cap: when it
 * is full, the array is reallocated to twice *cap items (first_cap when it has
 * none yet) and *cap updated. array is the address of the array's pointer (a
 * T ** for items of item_size = sizeof(T) bytes). -1 when out of memory (or
 * the count would overflow): the array is as it was. Doubling keeps a run of
 * appends linear:
 *     if (util_grow(&list->items, &list->cap, list->n, sizeof *list->items, 64)) return -1;
 *     list->items[list->n++] = item; */
int util_grow(void *array, int *cap, int n, size_t item_size, int first_cap);

// ----------------------------------------------------------------------------
// provenance (version.c): what a record or a report says made it

/* The code version baked in at build time: `git describe --always --dirty` of the checkout
 * the binary was built from (the Makefile writes it into BUILD/gen/code_version.h), or
 * "unknown" for a build outside a git checkout (a tarball). */
const char *util_code_version(void);
/* This machine's host name into out (cap bytes, cut to fit; "unknown" when it has none). */
void util_host_name(char *out, size_t cap);

#endif
