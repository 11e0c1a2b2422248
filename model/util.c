// model/util.c: the error helper shared by model/.
#include <stdarg.h>
#include <stdio.h>

#include "model/gpt2.h"

void gpt2_one_line(char *s) {
    for (unsigned char *p = (unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7F) *p = '?';
}

int gpt2_fail(GPT2Err *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        gpt2_one_line(err->msg);
    }
    return -1;
}
