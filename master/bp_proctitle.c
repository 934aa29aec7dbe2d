/* bp_proctitle.c -- process titles over the argv block, see bp_proctitle.h.
 *
 * The block is [argv[0], end) where end is one past the NUL of the last string that
 * directly follows the previous one: argv strings, then environment strings. Strings that
 * are not contiguous (an environment modified before init) end the block, so we only ever
 * write over memory the kernel laid out for us. This file's state is per process and set
 * once by bp_proctitle_init(); it is the one global here, like environ itself. */
#include "bp_proctitle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

extern char **environ;

static struct {
    char *start; /* argv[0]; NULL before init */
    char *end;   /* one past the last byte we may write */
    char **args; /* heap copies of the arguments; main's argv[i] point at them */
} bp_title;

int bp_proctitle_init(int argc, char **argv)
{
    char *end;
    char **env;
    char **args;
    size_t n_env = 0;

    if (bp_title.start != NULL || argc <= 0 || argv == NULL || argv[0] == NULL)
        return 0;
    end = argv[0] + strlen(argv[0]) + 1;
    for (int i = 1; i < argc && argv[i] != NULL; i++) {
        if (argv[i] != end)
            break;
        end = argv[i] + strlen(argv[i]) + 1;
    }
    for (char **e = environ; e != NULL && *e != NULL; e++)
        n_env++;

    /* move the environment out of the block (all of it, contiguous or not: simpler) */
    env = malloc((n_env + 1) * sizeof(*env));
    if (env == NULL)
        return -1;
    for (size_t i = 0; i < n_env; i++) {
        if (environ[i] == end)
            end = environ[i] + strlen(environ[i]) + 1; /* this string joins the block */
        env[i] = strdup(environ[i]);
        if (env[i] == NULL) {
            while (i-- > 0)
                free(env[i]);
            free(env);
            return -1;
        }
    }
    env[n_env] = NULL;
    environ = env; /* the copies live as long as the process; reachable through environ */

    /* and the arguments too: argv[i] then points at a copy that stays valid (for option
     * parsing and the USR2 re-exec) while the original block is overwritten */
    args = malloc(((size_t)argc + 1) * sizeof(*args));
    if (args == NULL)
        return -1;
    for (int i = 0; i < argc; i++) {
        args[i] = strdup(argv[i] != NULL ? argv[i] : "");
        if (args[i] == NULL) {
            while (i-- > 0)
                free(args[i]);
            free(args);
            return -1;
        }
    }
    args[argc] = NULL;

    bp_title.start = argv[0];
    bp_title.end = end;
    bp_title.args = args;
    for (int i = 0; i < argc; i++)
        argv[i] = args[i];
    return 0;
}

size_t bp_proctitle_capacity(void)
{
    return bp_title.start == NULL ? 0 : (size_t)(bp_title.end - bp_title.start);
}

void bp_proctitle_set(const char *fmt, ...)
{
    size_t cap = bp_proctitle_capacity();
    va_list ap;
    int len;

    if (cap < 2)
        return;
    va_start(ap, fmt);
    len = vsnprintf(bp_title.start, cap, fmt, ap); /* writes at most cap bytes, NUL included */
    va_end(ap);
    if (len < 0)
        len = 0;
    if ((size_t)len >= cap)
        len = (int)cap - 1;
    /* clear the rest so ps shows no remains of a longer previous title */
    memset(bp_title.start + len, '\0', cap - (size_t)len);
}

void bp_proctitle_set_name(const char *name)
{
    char comm[16]; /* TASK_COMM_LEN */

    snprintf(comm, sizeof(comm), "%s", name);
    (void)prctl(PR_SET_NAME, (unsigned long)comm, 0UL, 0UL, 0UL);
}
