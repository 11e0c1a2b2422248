/*
 * model/gpt2_cli_info.c: `gpt2 info`, the config and storage of a checkpoint.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "model/gpt2_cli.h"

static const char USAGE_INFO[] =
    "usage: gpt2 info --model DIR\n"
    "\n"
    "Loads and validates the checkpoint in DIR and prints its config, parameter\n"
    "count, file size, whether the tensors are used in place from the mmapped\n"
    "file or were converted into owned memory, and its tokenizer.\n"
    "\n"
    "  --model DIR   checkpoint directory\n";

static const char *const INFO_VALUE_OPTIONS[] = {"--model", NULL};

static int parse_info(int argc, char **argv, const char **model_dir) {
    const char *cmd = "info";
    *model_dir = NULL;
    OptionSpec spec = {cmd, USAGE_INFO, NULL, INFO_VALUE_OPTIONS, 0, 0};
    for (int i = 0; i < argc; i++) {
        const char *a, *v;
        int st = next_option(&spec, argc, argv, &i, &a, &v);
        if (st != ST_OK) return st;
        if (strcmp(a, "--model") == 0) *model_dir = v;
    }
    if (!*model_dir) return usage_error(cmd, "missing --model");
    return ST_OK;
}

static void print_storage(const GPT2Model *m, size_t n_params) {
    if (m->owned_floats == 0)
        printf("storage:     all tensors used in place (F32, mmapped read-only)\n");
    else if (m->owned_floats >= n_params)
        printf("storage:     all tensors converted into owned memory (%zu floats: F16/BF16 or misaligned)\n",
               m->owned_floats);
    else
        printf("storage:     %zu of %zu floats converted into owned memory (F16/BF16 or misaligned), "
               "the rest used in place\n", m->owned_floats, n_params);
}

int cmd_info(int argc, char **argv) {
    const char *dir;
    int st = parse_info(argc, argv, &dir);
    if (st != ST_OK) return st;

    Err err = {{0}};
    Session s;
    if (session_open(&s, dir, 0, &err) != 0) {
        session_close(&s);
        return runtime_error(&err);
    }
    const GPT2Config *c = &s.model.config;
    size_t n_params = gpt2_num_params(c);
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    struct stat sb;
    long long file_size = stat(path, &sb) == 0 ? (long long)sb.st_size : -1;

    printf("model:       %s\n", dir);
    printf("n_layer:     %d\n", c->n_layer);
    printf("n_head:      %d\n", c->n_head);
    printf("n_embd:      %d (head size %d)\n", c->n_embd, c->n_embd / c->n_head);
    printf("n_positions: %d\n", c->n_positions);
    printf("vocab_size:  %d\n", c->vocab_size);
    printf("ln_epsilon:  %g\n", (double)c->layer_norm_epsilon);
    printf("parameters:  %zu (%.1f MB as F32)\n", n_params, n_params * 4.0 / 1e6);
    printf("file:        %s, %lld bytes (%.1f MB)\n", path, file_size, file_size / 1e6);
    print_storage(&s.model, n_params);

    GPT2Tokenizer *tok = NULL;
    Err tok_err = {{0}};
    if (tokenizer_load(&tok, dir, &tok_err) == 0) {
        printf("tokenizer:   %d tokens\n", tokenizer_vocab_size(tok));
        tokenizer_free(tok);
    } else {
        printf("tokenizer:   none (%s)\n", tok_err.msg);
    }
    session_close(&s);
    return ST_OK;
}
