/*
 * replay.c: a plain main() for the fuzz targets, so `make check` runs the
 * seed corpus and the saved crash regressions through them without a
 * fuzzer (and under the normal, ASan+UBSan and Valgrind builds alike).
 *
 *     replay FILE|DIR...
 *
 * Each file is read whole and passed to LLVMFuzzerTestOneInput once; a
 * directory contributes its regular files (not recursively).  -v names
 * each input before running it; without it, a crash by a signal or an
 * ASan report (through its death callback) names the input that caused
 * it, but a UBSan report does not (gcc's runtime skips the callback), hence
 * the rerun with -v in the Makefile.
 * The run ends with "N inputs replayed".
 */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int verbose;
static const char *current;

extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

static void name_current(void)
{
    if (current) {
        static const char msg[] = "\nreplay: the input that failed: ";
        (void)!write(2, msg, sizeof msg - 1);
        (void)!write(2, current, strlen(current));
        (void)!write(2, "\n", 1);
    }
}

static void on_signal(int sig)
{
    name_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 4096, len = 0, k;
    uint8_t *buf = malloc(cap);
    while (buf && (k = fread(buf + len, 1, cap - len, f)) > 0) {
        len += k;
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "%s: out of memory\n", path);
        return -1;
    }
    if (verbose)
        fprintf(stderr, "replay %s (%zu bytes)\n", path, len);
    /* An exact-size copy, so ASan catches a read one past the input. */
    uint8_t *exact = malloc(len ? len : 1);
    memcpy(exact, buf, len);
    free(buf);
    current = path;
    LLVMFuzzerTestOneInput(exact, len);
    current = NULL;
    free(exact);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    int count = 0, errors = 0;
    if (__sanitizer_set_death_callback)
        __sanitizer_set_death_callback(name_current);
    signal(SIGABRT, on_signal);
    signal(SIGSEGV, on_signal);
    signal(SIGBUS, on_signal);
    signal(SIGFPE, on_signal);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            verbose = 1;
            continue;
        }
        struct stat sb;
        if (stat(argv[i], &sb) != 0) {
            perror(argv[i]);
            errors++;
            continue;
        }
        if (!S_ISDIR(sb.st_mode)) {
            errors += replay_file(argv[i]) != 0;
            count++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d) {
            perror(argv[i]);
            errors++;
            continue;
        }
        char **names = NULL;
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            names = realloc(names, (n + 1) * sizeof *names);
            size_t l = strlen(argv[i]) + strlen(e->d_name) + 2;
            names[n] = malloc(l);
            snprintf(names[n], l, "%s/%s", argv[i], e->d_name);
            n++;
        }
        closedir(d);
        qsort(names, n, sizeof *names, cmp);
        for (size_t j = 0; j < n; j++) {
            if (stat(names[j], &sb) == 0 && S_ISREG(sb.st_mode)) {
                errors += replay_file(names[j]) != 0;
                count++;
            }
            free(names[j]);
        }
        free(names);
    }
    printf("%d inputs replayed\n", count);
    return errors ? 1 : 0;
}
