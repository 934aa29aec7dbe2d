/* main.c -- the bullpen command line: parses the sub-command and its options and hands
 * over to the module that does the work (run, check, enqueue, stats, ctl, version). */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

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

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "version") == 0) {
        fputs("bullpen " BP_VERSION "\n", stdout);
        return 0;
    }
    usage(stderr);
    return EX_USAGE;
}
