/* main.c -- the bullpen command line: parses the sub-command and its options and hands
 * over to the module that does the work (run, check, enqueue, stats, ctl, version). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "bp_master.h"

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

static int cmd_run(int argc, char **argv, int full_argc, char **full_argv)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"workers", required_argument, NULL, 'w'},
                                             {"daemon", no_argument, NULL, 'd'},
                                             {"pidfile", required_argument, NULL, 'p'},
                                             {NULL, 0, NULL, 0}};
    bp_run_options o = {.workers_override = -1, .argc = full_argc, .argv = full_argv};
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

int main(int argc, char **argv)
{
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
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "bullpen: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EX_USAGE;
}
