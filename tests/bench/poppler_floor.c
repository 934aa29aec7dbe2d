/* poppler_floor.c -- the floor of what the PDF library itself costs, for document_formats.py:
 * one process reads each file given with poppler-glib's own text API (the calls bullpen's
 * extractor makes for the text layer, and nothing else: no Redis, no sandbox, no chunks,
 * no page-aware output), the files one after the other as a worker would. It prints one
 * line of JSON like the other rows: CPU seconds of the reading, pages, peak RSS.
 *
 * Its peak memory is the least any worker built on poppler-glib can have; bullpen's worker
 * adds to it a Redis/TLS client, the sandbox's processes and the chunks. */
#include <poppler.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double cpu = 0;
    long pages = 0, chars = 0;
    struct rusage ru;

    for (int a = 1; a < argc; a++) {
        gchar *contents = NULL;
        gsize len = 0;
        GError *error = NULL;
        double t0 = cpu_now();

        if (!g_file_get_contents(argv[a], &contents, &len, &error)) {
            fprintf(stderr, "poppler_floor: %s: %s\n", argv[a], error->message);
            return 1;
        }
        GBytes *bytes = g_bytes_new_static(contents, len);
        PopplerDocument *doc = poppler_document_new_from_bytes(bytes, NULL, &error);
        if (doc == NULL) {
            fprintf(stderr, "poppler_floor: %s: %s\n", argv[a], error->message);
            return 1;
        }
        int n = poppler_document_get_n_pages(doc);
        for (int i = 0; i < n; i++) {
            PopplerPage *page = poppler_document_get_page(doc, i);
            char *text = poppler_page_get_text(page);
            chars += text != NULL ? (long)strlen(text) : 0;
            g_free(text);
            g_object_unref(page);
        }
        pages += n;
        g_object_unref(doc);
        g_bytes_unref(bytes);
        g_free(contents);
        cpu += cpu_now() - t0;
    }
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stdout, "{\"files\":%d,\"pages\":%ld,\"chars\":%ld,\"cpu_s\":%.4f,\"maxrss_kb\":%ld}\n",
            argc - 1, pages, chars, cpu, ru.ru_maxrss);
    return 0;
}
