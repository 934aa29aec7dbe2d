/* bp_result.c -- filling and clearing a handler's outcome (bp_result in bp_handler.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_handler.h"

void bp_result_clear(bp_result *res)
{
    free(res->value);
    free(res->error);
    res->value = NULL;
    res->error = NULL;
    res->len = 0;
    res->discard = false;
}

void bp_result_value(bp_result *res, const char *json, size_t len)
{
    bp_result_clear(res);
    res->value = malloc(len + 1);
    if (res->value == NULL) {
        res->error = strdup("out of memory storing the result");
        return;
    }
    memcpy(res->value, json, len);
    res->value[len] = '\0';
    res->len = len;
}

void bp_result_error(bp_result *res, const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;

    bp_result_clear(res);
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    res->error = msg != NULL ? msg : strdup("out of memory formatting an error");
}
