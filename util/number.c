// util/number.c: numbers as the sweep writes them into points (see util.h).
#include <stdio.h>
#include <stdlib.h>

#include "util/util.h"

double util_six_digits(double x) {
    char text[32];
    snprintf(text, sizeof text, "%.6g", x);
    return strtod(text, NULL);
}
