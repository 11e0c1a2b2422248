// util/err.c: the one error helper (see util.h).
#include <stdarg.h>
#include <stdio.h>

#include "util/util.h"

void err_one_line(char *s) {
    for (unsigned char *p = (unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7F) *p = '?';
}

int err_fail(Err *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err_one_line(err->msg);
    }
    return -1;
}
