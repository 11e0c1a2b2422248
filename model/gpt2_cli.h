/*
 * model/gpt2_cli.h: what the files of the gpt2 program share (private to the
 * program, not part of model/'s contract, which is model/gpt2.h): statuses
 * and messages, the option loop and number parsing (gpt2_cli_options.c), the
 * text a command reads and the tokenizer files of a checkpoint
 * (gpt2_cli_files.c), a loaded model (gpt2_cli_session.c), and each
 * command's entry point (gpt2_cli_COMMAND.c).
 */
#ifndef GPT2_CLI_H
#define GPT2_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "model/gpt2.h"

// ----------------------------------------------------------------------------
// statuses, messages, the clock

// What a command returns to main; ST_HELP means "usage printed, exit 0".
enum { ST_OK = 0, ST_ERROR = 1, ST_USAGE = 2, ST_HELP = -1 };

// Prints "gpt2 CMD: message" and a hint on stderr; returns ST_USAGE.
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Prints the one-line message of a runtime error; returns ST_ERROR.
int runtime_error(const Err *err);


// ----------------------------------------------------------------------------
// option parsing (gpt2_cli_options.c)

// "--help" or "-h"
int is_help(const char *arg);

// What the subcommands' option loops share. A command's options are flags and
// value options ("--name value"), NULL-terminated lists; a command that takes
// positional arguments (texts) also takes "--", which ends its options.
typedef struct {
    const char *cmd, *usage;
    const char *const *flags, *const *values;
    int positional, options_done;
} OptionSpec;

// Reads argv[*i] (and the value after it, advancing *i). ST_OK with *name the
// option and *value its value (NULL for a flag), or *name NULL and *value the
// positional argument (NULL for "--"); ST_HELP once the usage is printed;
// ST_USAGE once the message is.
int next_option(OptionSpec *o, int argc, char **argv, int *i, const char **name, const char **value);

// The value s of option opt of command cmd, checked against its range; ST_OK
// or ST_USAGE once the message is printed.
int parse_int(const char *cmd, const char *opt, const char *s, int lo, int hi, int *out);
int parse_u64(const char *cmd, const char *opt, const char *s, uint64_t *out);
int parse_float(const char *cmd, const char *opt, const char *s, double lo, double hi, float *out);
// "f32" or "bf16" (gpt2_set_precision)
int parse_precision(const char *cmd, const char *opt, const char *s, GPT2Precision *out);

// ----------------------------------------------------------------------------
// files (gpt2_cli_files.c)

int path_exists(const char *path);

// The text of a command: the positional argument, "-" for standard input,
// or --file F.
typedef struct {
    const char *arg;    // positional text or NULL
    const char *file;   // --file or NULL
} TextSource;

// The text of src into a malloc'd, NUL-terminated buffer.
int read_text(const TextSource *src, char **text, size_t *len, Err *err);
// Takes a positional argument or --file into src; refuses a second source.
int set_text_source(const char *cmd, TextSource *src, const char *arg, const char *file);

// The tokenizer pair found in dir (vocab.json + merges.txt, or encoder.json +
// vocab.bpe), read whole: names[], data[] (malloc'd) and len[]; and written
// into another dir.
int read_tokenizer_files(const char *dir, const char *names[2], char *data[2], size_t len[2], Err *err);
int write_tokenizer_files(const char *dir, const char *names[2], char *data[2], size_t len[2], Err *err);

// ----------------------------------------------------------------------------
// a loaded model with its tokenizer, KV cache and activations
// (gpt2_cli_session.c)

typedef struct {
    GPT2Model model;
    int have_model;
    GPT2Tokenizer *tok;
    GPT2KVCache kv;
    int have_kv;
    GPT2Acts acts;
    int have_acts;
} Session;

// Loads the model in dir (and its tokenizer if with_tokenizer).
int session_open(Session *s, const char *dir, int with_tokenizer, Err *err);
// A KV cache of one row of kv_len positions (none if 0) and activations for
// one row.
int session_alloc(Session *s, int kv_len, int max_T, int max_keys, int max_out, Err *err);
// Frees what was made; safe after a failed open.
void session_close(Session *s);

// Encodes text into a malloc'd array of *n_ids ids.
int encode_text(Session *s, const char *text, size_t len, int **ids, int *n_ids, Err *err);

// <|endoftext|>, which score and generate start from
static const int eot = GPT2_EOT;

// Every id must index a row of wte.
int check_ids_in_vocab(const int *ids, int n, int V, Err *err);

// ----------------------------------------------------------------------------
// the commands: argv holds the arguments after the command's name; each
// returns a status

int cmd_init(int argc, char **argv);       // gpt2_cli_init.c
int cmd_score(int argc, char **argv);      // gpt2_cli_score.c
int cmd_generate(int argc, char **argv);   // gpt2_cli_generate.c: the sampler
int cmd_logits(int argc, char **argv);     // gpt2_cli_logits.c
int cmd_info(int argc, char **argv);       // gpt2_cli_info.c
int cmd_train(int argc, char **argv);      // gpt2_cli_train.c: the trainer

#endif
