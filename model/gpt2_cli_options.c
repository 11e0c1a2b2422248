/*
 * model/gpt2_cli_options.c: the gpt2 program's command line: usage and
 * runtime error messages, the option loop every command runs, and the
 * parsing of numbers with their ranges.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gpt2_cli.h"

// ----------------------------------------------------------------------------
// messages

// Prints "gpt2 CMD: message" and a hint on stderr; returns ST_USAGE.
int usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gpt2%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'gpt2 %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    return ST_USAGE;
}

// Prints the one-line message of a runtime error; returns ST_ERROR.
int runtime_error(const Err *err) {
    fprintf(stderr, "gpt2: %s\n", err->msg);
    return ST_ERROR;
}

// ----------------------------------------------------------------------------
// option parsing: hand-rolled, as in llama2.c's run.c. Options are "--name
// value" (or flags); "--" ends the options; anything else is positional, so
// a text such as "-5 degrees" or "-" (standard input) needs no quoting.

static int is_option(const char *arg) {
    return (arg[0] == '-' && arg[1] == '-') || strcmp(arg, "-h") == 0;
}

int is_help(const char *arg) {
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

// Whether arg is one of names (NULL-terminated): checked before a value is
// taken, so that an unknown option is reported as such, not as "needs a value".
static int is_one_of(const char *arg, const char *const *names) {
    for (; *names; names++)
        if (strcmp(arg, *names) == 0) return 1;
    return 0;
}

// The value after option argv[*i]; advances *i.
static int option_value(const char *cmd, int argc, char **argv, int *i, const char **value) {
    if (*i + 1 >= argc) return usage_error(cmd, "option %s needs a value", argv[*i]);
    *i += 1;
    *value = argv[*i];
    return ST_OK;
}

// Reads argv[*i] (and the value after it, advancing *i). ST_OK with *name the
// option and *value its value (NULL for a flag), or *name NULL and *value the
// positional argument (NULL for "--"); ST_HELP once the usage is printed;
// ST_USAGE once the message is.
int next_option(OptionSpec *o, int argc, char **argv, int *i, const char **name, const char **value) {
    const char *a = argv[*i];
    *name = *value = NULL;
    if (o->options_done || !is_option(a)) {
        if (!o->positional) return usage_error(o->cmd, "unexpected argument '%s'", a);
        *value = a;
        return ST_OK;
    }
    if (o->positional && strcmp(a, "--") == 0) {
        o->options_done = 1;
        return ST_OK;
    }
    if (is_help(a)) {
        fputs(o->usage, stdout);
        return ST_HELP;
    }
    *name = a;
    if (o->flags && is_one_of(a, o->flags)) return ST_OK;
    if (!is_one_of(a, o->values)) return usage_error(o->cmd, "unknown option '%s'", a);
    return option_value(o->cmd, argc, argv, i, value);
}

static int parse_long(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE)
        return usage_error(cmd, "%s expects an integer, got '%s'", opt, s);
    if (v < lo || v > hi)
        return usage_error(cmd, "%s must be in [%ld, %ld], got %ld", opt, lo, hi, v);
    *out = v;
    return ST_OK;
}

int parse_int(const char *cmd, const char *opt, const char *s, int lo, int hi, int *out) {
    long v = 0;
    int st = parse_long(cmd, opt, s, lo, hi, &v);
    if (st == ST_OK) *out = (int)v;
    return st;
}

int parse_u64(const char *cmd, const char *opt, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    // strtoull skips blanks and accepts "-1", wrapping it: a seed starts with a digit
    unsigned long long v = strtoull(s, &end, 10);
    if (!isdigit((unsigned char)s[0]) || end == s || *end != '\0' || errno == ERANGE)
        return usage_error(cmd, "%s expects an unsigned 64-bit integer, got '%s'", opt, s);
    *out = (uint64_t)v;
    return ST_OK;
}

int parse_float(const char *cmd, const char *opt, const char *s, double lo, double hi, float *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return usage_error(cmd, "%s expects a finite number, got '%s'", opt, s);
    if (v < lo || v > hi)
        return usage_error(cmd, "%s must be in [%g, %g], got %g", opt, lo, hi, v);
    *out = (float)v;
    return ST_OK;
}

int parse_precision(const char *cmd, const char *opt, const char *s, GPT2Precision *out) {
    Err err;
    if (gpt2_precision_parse(s, out, &err)) return usage_error(cmd, "%s: %s", opt, err.msg);
    return ST_OK;
}
