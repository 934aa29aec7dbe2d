/* main.c -- the bullpen command line: parses the sub-command and its options and hands
 * over to the module that does the work (run, check, enqueue, stats, ctl, version). */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "bp_check.h"
#include "bp_cmd_queue.h"
#include "bp_ctl.h"
#include "bp_log.h"
#include "bp_master.h"
#include "bp_proctitle.h"
#include "bp_sandbox_extract.h"

static void usage(FILE *out)
{
    fputs("usage: bullpen run     -c FILE [-w N] [-d] [--pidfile P]\n"
          "       bullpen check   -c FILE\n"
          "       bullpen enqueue -c FILE [-q QUEUE] NAME JSON [--opts JSON]\n"
          "       bullpen stats   -c FILE [-q QUEUE] [--json]\n"
          "       bullpen ctl     -c FILE [--host H] status|pause|resume|scale N|reload|"
          "shutdown|cancel ID\n"
          "       bullpen version\n",
          out);
}

/* Set by main() from BULLPEN_UPGRADE_FROM (a USR2 re-exec), before the environment moves. */
static pid_t upgrade_from;

static int cmd_run(int argc, char **argv, int full_argc, char **full_argv)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"workers", required_argument, NULL, 'w'},
                                             {"daemon", no_argument, NULL, 'd'},
                                             {"pidfile", required_argument, NULL, 'p'},
                                             {NULL, 0, NULL, 0}};
    bp_run_options o = {
        .workers_override = -1, .argc = full_argc, .argv = full_argv, .upgrade_from = upgrade_from};
    int ch;

    while ((ch = getopt_long(argc, argv, "c:w:dp:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o.config_path = optarg;
            break;
        case 'w': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end != '\0' || n < 0 || n > 1024) {
                fprintf(stderr, "bullpen run: -w wants a worker count 0..1024, not '%s'\n", optarg);
                return EX_USAGE;
            }
            o.workers_override = (int)n;
            break;
        }
        case 'd':
            o.daemonize = true;
            break;
        case 'p':
            o.pidfile = optarg;
            break;
        default:
            usage(stderr);
            return EX_USAGE;
        }
    }
    if (o.config_path == NULL || optind != argc) {
        fputs("bullpen run: -c FILE is required (see bullpen.conf(5))\n", stderr);
        return EX_USAGE;
    }
    return bp_master_run(&o);
}

/* Options shared by the one-shot commands: -c FILE, -q QUEUE, --json, --opts, --host. */
typedef struct cli_opts {
    const char *config_path;
    const char *queue;
    const char *opts_json;
    const char *host;
    bool json;
    int first_arg; /* index of the first positional argument in argv */
} cli_opts;

static int parse_cli(int argc, char **argv, cli_opts *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"queue", required_argument, NULL, 'q'},
        {"opts", required_argument, NULL, 'o'},   {"host", required_argument, NULL, 'H'},
        {"json", no_argument, NULL, 'j'},         {NULL, 0, NULL, 0}};
    int ch;

    memset(o, 0, sizeof(*o));
    optind = 1;
    /* "+" stops at the first positional argument only for ctl; the others permute */
    while ((ch = getopt_long(argc, argv, "c:q:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o->config_path = optarg;
            break;
        case 'q':
            o->queue = optarg;
            break;
        case 'o':
            o->opts_json = optarg;
            break;
        case 'H':
            o->host = optarg;
            break;
        case 'j':
            o->json = true;
            break;
        default:
            return -1;
        }
    }
    if (o->config_path == NULL) {
        fprintf(stderr, "bullpen %s: -c FILE is required (see bullpen.conf(5))\n", argv[0]);
        return -1;
    }
    o->first_arg = optind;
    return 0;
}

/* Load the configuration for a one-shot command; prints the error and returns NULL. */
static bp_config *load_config(const char *path)
{
    bp_config *cfg = NULL;
    bp_err err;

    if (bp_config_load(&cfg, path, &err) != 0) {
        fprintf(stderr, "bullpen: %s\n", err.msg);
        return NULL;
    }
    bp_log_open(BP_LOG_WARN, NULL, false, cfg->log.format);
    bp_log_set_role("cli");
    return cfg;
}

/* A command that loads the configuration, does one thing and exits. */
typedef struct one_shot {
    const char *name; /* "enqueue" */
    int min_args;     /* positional arguments after the options */
    int max_args;
    const char *want; /* what to say when the count is wrong */
    int (*run)(const bp_config *cfg, const cli_opts *o, char **args);
} one_shot;

static int run_enqueue(const bp_config *cfg, const cli_opts *o, char **args)
{
    return bp_cmd_enqueue(cfg, o->queue, args[0], args[1], o->opts_json);
}

static int run_stats(const bp_config *cfg, const cli_opts *o, char **args)
{
    (void)args;
    return bp_cmd_stats(cfg, o->queue, o->json);
}

static int run_check(const bp_config *cfg, const cli_opts *o, char **args)
{
    (void)o;
    (void)args;
    return bp_check_run(cfg, stdout);
}

static int run_ctl(const bp_config *cfg, const cli_opts *o, char **args)
{
    int n = 0;

    while (args[n] != NULL)
        n++;
    return bp_ctl_run(cfg, o->host, n, args);
}

static const one_shot one_shots[] = {
    {"enqueue", 2, 2, "NAME and JSON, e.g. bullpen enqueue -c bullpen.conf echo '{\"a\":1}'",
     run_enqueue},
    {"stats", 0, 0, "no arguments besides -c, -q and --json", run_stats},
    {"check", 0, 0, "only -c FILE", run_check},
    {"ctl", 1, 2, "a command: status|pause|resume|scale N|reload|shutdown|cancel ID", run_ctl},
};

static int cmd_one_shot(const one_shot *c, int argc, char **argv)
{
    cli_opts o;
    bp_config *cfg;
    int n, rc;

    if (parse_cli(argc, argv, &o) != 0)
        return EX_USAGE;
    n = argc - o.first_arg;
    if (n < c->min_args || n > c->max_args) {
        fprintf(stderr, "bullpen %s: wants %s\n", c->name, c->want);
        return EX_USAGE;
    }
    if ((cfg = load_config(o.config_path)) == NULL)
        return EX_CONFIG;
    rc = c->run(cfg, &o, argv + o.first_arg);
    bp_config_free(cfg);
    return rc;
}

int main(int argc, char **argv)
{
    const char *from, *profile;

    /* the extraction sandbox's extractor: the worker execs this binary again (bp_sandbox.h) */
    if (bp_sandbox_is_extractor(argc, argv, &profile))
        return bp_sandbox_server_main(bp_sandbox_extract_fns, bp_sandbox_extract_n_fns,
                                      bp_sandbox_extract_init, profile);
    from = getenv("BULLPEN_UPGRADE_FROM");
    if (from != NULL) { /* read and drop it before the environment is copied */
        upgrade_from = (pid_t)atol(from);
        unsetenv("BULLPEN_UPGRADE_FROM");
    }
    bp_proctitle_init(argc, argv); /* argv now points at heap copies; safe to keep */
    if (argc < 2) {
        usage(stderr);
        return EX_USAGE;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        fputs("bullpen " BP_VERSION "\n", stdout);
        return 0;
    }
    if (strcmp(argv[1], "run") == 0)
        return cmd_run(argc - 1, argv + 1, argc, argv);
    for (size_t i = 0; i < sizeof(one_shots) / sizeof(one_shots[0]); i++) {
        if (strcmp(argv[1], one_shots[i].name) == 0)
            return cmd_one_shot(&one_shots[i], argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "bullpen: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EX_USAGE;
}
