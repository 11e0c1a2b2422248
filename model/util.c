// model/util.c: the error helper shared by model/.
#include <stdarg.h>
#include <stdio.h>

#include "model/gpt2.h"

int gpt2_fail(GPT2Err *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}
