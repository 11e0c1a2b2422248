/*
 * model/gpt2_main.c: the gpt2 program, a command-line front end to model/:
 * main(), the dispatch to the commands and the top-level usage.
 *
 *   gpt2 init      a random checkpoint in the Hugging Face layout
 *   gpt2 score     per-token log-probabilities and the perplexity of a text
 *   gpt2 generate  a sampled continuation of a prompt, using the KV cache
 *   gpt2 logits    raw float32 logits of a text or of token ids (for tests)
 *   gpt2 info      the config and storage of a checkpoint
 *   gpt2 train     train a checkpoint on a text data set (backward + AdamW)
 *
 * Exit status: 0 success, 1 runtime error ("gpt2: <message>" on stderr),
 * 2 usage error (a one-line message and a hint on stderr). Only main() exits;
 * every command frees everything it allocated before it returns, so that
 * LeakSanitizer stays clean.
 *
 * Each command lives in its own file, model/gpt2_cli_COMMAND.c (generate is
 * the sampler, train the trainer); what they share (option parsing, texts,
 * a loaded model, messages) is declared in model/gpt2_cli.h.
 */
#include <stdio.h>
#include <string.h>

#include "model/gpt2_cli.h"

static const char USAGE_MAIN[] =
    "usage: gpt2 COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  init      write a random GPT-2 checkpoint (Hugging Face layout)\n"
    "  score     per-token log-probabilities and perplexity of a text\n"
    "  generate  sample a continuation of a prompt\n"
    "  logits    write raw float32 logits of a text or of token ids (for tests)\n"
    "  info      print the config and storage of a checkpoint\n"
    "  train     train a checkpoint on the sentences of a TSV or text file\n"
    "\n"
    "Run 'gpt2 COMMAND --help' for the options of a command.\n"
    "Exit status: 0 ok, 1 runtime error, 2 usage error.\n";

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);   // argv: the arguments after the name
} Command;

static const Command COMMANDS[] = {
    {"init", cmd_init},
    {"score", cmd_score},
    {"generate", cmd_generate},
    {"logits", cmd_logits},
    {"info", cmd_info},
    {"train", cmd_train},
};

int main(int argc, char **argv) {
    if (argc < 2) return usage_error(NULL, "missing command (init, score, generate, logits, info or train)");
    if (is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        fputs(USAGE_MAIN, stdout);
        return ST_OK;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++) {
        if (strcmp(argv[1], COMMANDS[i].name) != 0) continue;
        int st = COMMANDS[i].run(argc - 2, argv + 2);
        return st == ST_HELP ? ST_OK : st;
    }
    return usage_error(NULL, "unknown command '%s'", argv[1]);
}
