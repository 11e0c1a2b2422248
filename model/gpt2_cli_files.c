/*
 * model/gpt2_cli_files.c: the files of the gpt2 program's commands: the text
 * a command reads (an argument, standard input or --file), and the tokenizer
 * files that travel with a checkpoint (init copies them in, train out).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/gpt2_cli.h"

int path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int read_text(const TextSource *src, char **text, size_t *len, Err *err) {
    if (src->file && strcmp(src->file, "-") != 0) return util_read_file(src->file, text, len, err);
    if (src->file || (src->arg && strcmp(src->arg, "-") == 0))
        return util_read_stream(stdin, "standard input", SIZE_MAX, text, len, err);
    const char *s = src->arg ? src->arg : "";
    *len = strlen(s);
    *text = malloc(*len + 1);
    if (!*text) return err_fail(err, "out of memory");
    memcpy(*text, s, *len + 1);
    return 0;
}

// Takes a positional argument or --file into src; refuses a second source.
int set_text_source(const char *cmd, TextSource *src, const char *arg, const char *file) {
    if (src->arg || src->file) return usage_error(cmd, "give the text once: as an argument, '-' or --file");
    src->arg = arg;
    src->file = file;
    return ST_OK;
}

// The tokenizer files that travel with a checkpoint, in tokenizer_load's
// order of preference.
static const char *const TOKENIZER_PAIRS[2][2] = {
    {"vocab.json", "merges.txt"},
    {"encoder.json", "vocab.bpe"},
};

// Reads the tokenizer pair found in dir; failing here, before anything is
// written, leaves no half-made checkpoint.
int read_tokenizer_files(const char *dir, const char *names[2], char *data[2], size_t len[2], Err *err) {
    char path[4096];
    for (int p = 0; p < 2; p++) {
        snprintf(path, sizeof path, "%s/%s", dir, TOKENIZER_PAIRS[p][0]);
        if (!path_exists(path)) continue;
        for (int f = 0; f < 2; f++) {
            names[f] = TOKENIZER_PAIRS[p][f];
            snprintf(path, sizeof path, "%s/%s", dir, names[f]);
            if (util_read_file(path, &data[f], &len[f], err) != 0) {
                if (f == 1) free(data[0]);
                return -1;
            }
        }
        return 0;
    }
    return err_fail(err, "%s/vocab.json: not found (nor encoder.json): run 'make tokenizer' "
                     "or pass --tokenizer DIR", dir);
}

int write_tokenizer_files(const char *dir, const char *names[2], char *data[2], size_t len[2], Err *err) {
    char path[4096];
    for (int f = 0; f < 2; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[f]);
        if (util_write_file_atomic(path, data[f], len[f], err) != 0) return -1;
    }
    return 0;
}
