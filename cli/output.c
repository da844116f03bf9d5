/*
 * output.c: error and warning lines and the JSON value writers the
 * subcommands share.  Errors are one line, "simrep: error: <file>: <what is
 * wrong>", so scripts can grep them and people can read them.
 *
 * Outputs are written whole or the command fails: stdout is flushed and its
 * error flag checked by cli_finish ("standard output: <reason>", exit 1);
 * files (the -o DIR reports) go through cli_file, a temporary name in the
 * target's directory renamed over it once every byte is written and the
 * file closed, so a full disk, a size limit or Ctrl-C (cli_finish removes
 * registered temporary files) never leaves a truncated file where a
 * complete one is expected.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "cli.h"

#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------- interruption */

/* The flag the library reads (an int, stored with a relaxed atomic from the
 * handler: lock-free, so async-signal-safe), and the signal that set it. */
static int interrupt_flag;
static volatile sig_atomic_t interrupt_signal;

static void on_interrupt(int sig)
{
    __atomic_store_n(&interrupt_flag, 1, __ATOMIC_RELAXED);
    interrupt_signal = sig;
    signal(sig, SIG_DFL); /* a second Ctrl-C kills at once */
}

void cli_interrupt_setup(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    /* SA_RESTART: reads and writes go on (the library polls the flag
     * between blocks; no file read blocks: non-regular files are refused). */
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cli_interrupted(void)
{
    return __atomic_load_n(&interrupt_flag, __ATOMIC_RELAXED) ? (int)interrupt_signal : 0;
}

simrep_ctx *cli_ctx_new(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    simrep_ctx_set_cancel(ctx, &interrupt_flag);
    return ctx;
}

/* ------------------------------------------------------- temporary files */

static char **temps;
static size_t ntemps, captemps;

void cli_temp_add(const char *path)
{
    if (ntemps == captemps) {
        size_t cap = captemps ? 2 * captemps : 16;
        char **t = realloc(temps, cap * sizeof *t);
        if (!t)
            return; /* not registered: at worst a leftover file after a failure */
        temps = t;
        captemps = cap;
    }
    char *copy = strdup(path);
    if (copy)
        temps[ntemps++] = copy;
}

void cli_temp_forget(const char *path)
{
    for (size_t i = 0; i < ntemps; i++)
        if (strcmp(temps[i], path) == 0) {
            free(temps[i]);
            temps[i] = temps[--ntemps];
            return;
        }
}

/* ------------------------------------------------- files written whole */

/* The mode a plain fopen would have given (0666 less the umask): mkstemp
 * makes 0600. */
static mode_t file_mode(void)
{
    static int known;
    static mode_t mode;
    if (!known) {
        mode_t mask = umask(022);
        umask(mask);
        mode = 0666 & ~mask;
        known = 1;
    }
    return mode;
}

/* Fills cf's names and makes the temporary file; returns its descriptor,
 * -2 for a target written in place (not a regular file), or -1 after the
 * error. */
static int file_begin(cli_file *cf, const char *path)
{
    memset(cf, 0, sizeof *cf);
    if (snprintf(cf->target, sizeof cf->target, "%s", path) >= (int)sizeof cf->target) {
        errno = ENAMETOOLONG;
        return cli_error(EXIT_DATA, "%.200s...: %s", path, strerror(errno)), -1;
    }
    snprintf(cf->dest, sizeof cf->dest, "%s", path);
    struct stat st;
    if (lstat(path, &st) == 0) {
        int in_place = !S_ISREG(st.st_mode);
        if (S_ISLNK(st.st_mode)) { /* replace what the link points to, if a regular file */
            char *real = realpath(path, NULL);
            in_place = !(real && stat(real, &st) == 0 && S_ISREG(st.st_mode) && strlen(real) < sizeof cf->dest);
            if (!in_place)
                snprintf(cf->dest, sizeof cf->dest, "%s", real);
            free(real);
        }
        if (in_place)
            return -2;
    }
    const char *slash = strrchr(cf->dest, '/');
    const int dirlen = slash ? (int)(slash - cf->dest + 1) : 0;
    if (snprintf(cf->tmp, sizeof cf->tmp, "%.*s.%s.XXXXXX", dirlen, cf->dest, cf->dest + dirlen) >=
        (int)sizeof cf->tmp) {
        cf->tmp[0] = 0;
        return cli_error(EXIT_DATA, "%s: %s", path, strerror(ENAMETOOLONG)), -1;
    }
    int fd = mkstemp(cf->tmp);
    if (fd < 0) {
        const int e = errno;
        cf->tmp[0] = 0;
        return cli_error(EXIT_DATA, "%s: cannot write: %s", path, strerror(e)), -1;
    }
    cli_temp_add(cf->tmp);
    (void)fchmod(fd, file_mode());
    return fd;
}

FILE *cli_file_open(cli_file *cf, const char *path)
{
    int fd = file_begin(cf, path);
    if (fd == -1)
        return NULL;
    if (fd == -2) {
        cf->f = fopen(path, "w");
        if (!cf->f)
            cli_error(EXIT_DATA, "%s: cannot write: %s", path, strerror(errno));
        return cf->f;
    }
    cf->f = fdopen(fd, "w");
    if (!cf->f) {
        const int e = errno;
        close(fd);
        unlink(cf->tmp);
        cli_temp_forget(cf->tmp);
        cli_error(EXIT_DATA, "%s: %s", path, strerror(e));
    }
    return cf->f;
}

int cli_file_reserve(cli_file *cf, const char *path)
{
    int fd = file_begin(cf, path);
    if (fd == -1)
        return EXIT_DATA;
    if (fd == -2) /* the program writes the target itself */
        snprintf(cf->tmp, sizeof cf->tmp, "%s", "");
    else
        close(fd);
    return 0;
}

int cli_file_commit(cli_file *cf, int rc)
{
    if (rc < 0) { /* abandoned: removed without a word */
        if (cf->f)
            fclose(cf->f);
        cf->f = NULL;
        if (cf->tmp[0]) {
            unlink(cf->tmp);
            cli_temp_forget(cf->tmp);
        }
        cf->tmp[0] = 0;
        return 0;
    }
    int err = rc ? (errno ? errno : EIO) : 0;
    if (cf->f) {
        if (fflush(cf->f) != 0)
            err = errno ? errno : EIO;
        else if (ferror(cf->f) && !err)
            err = EIO;
        if (fclose(cf->f) != 0 && !err)
            err = errno ? errno : EIO;
        cf->f = NULL;
    }
    if (!cf->tmp[0]) {
        if (err)
            return cli_error(EXIT_DATA, "%s: %s", cf->target, strerror(err));
        return 0;
    }
    if (!err && rename(cf->tmp, cf->dest) != 0)
        err = errno;
    if (err)
        unlink(cf->tmp);
    cli_temp_forget(cf->tmp);
    cf->tmp[0] = 0;
    return err ? cli_error(EXIT_DATA, "%s: %s", cf->target, strerror(err)) : 0;
}

int cli_finish(int rc)
{
    for (size_t i = 0; i < ntemps; i++) {
        unlink(temps[i]);
        free(temps[i]);
    }
    free(temps);
    temps = NULL;
    ntemps = captemps = 0;
    const int sig = cli_interrupted();
    /* Everything a command printed went to stdout through stdio: a full
     * disk or a closed stdout shows only when it is flushed.  A command
     * that succeeded but whose output was not written has failed. */
    if (!sig && rc == 0 && (fflush(stdout) != 0 || ferror(stdout)))
        return cli_error(EXIT_DATA, "standard output: %s", strerror(errno ? errno : EIO));
    if (!sig)
        return rc;
    fprintf(stderr, "simrep: interrupted (%s); stopped and cleaned up\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    return 128 + sig;
}

/* cli_hold: errors kept instead of printed (the first one), warnings dropped. */
static int held;
static char held_error[2048];

void cli_hold(int on)
{
    held = on;
    if (on)
        held_error[0] = 0;
}

const char *cli_held_error(void)
{
    return held_error;
}

/* s into out (at most cap bytes, always terminated) with its line breaks
 * and other control bytes written as \n, \r, \xHH: a file name holding a
 * newline (or an escape sequence) keeps a message on one line and the
 * terminal as it was.  Other bytes are copied as they are. */
static void one_line(char *out, size_t cap, const char *s)
{
    size_t k = 0;
    for (const unsigned char *c = (const unsigned char *)s; *c && k + 5 <= cap; c++) {
        if (*c == '\n' || *c == '\r')
            k += (size_t)snprintf(out + k, cap - k, "\\%c", *c == '\n' ? 'n' : 'r');
        else if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
            k += (size_t)snprintf(out + k, cap - k, "\\x%02x", *c);
        else
            out[k++] = (char)*c;
    }
    out[k] = 0;
}

int cli_text(FILE *f, const char *s)
{
    char line[4 * 4096 + 1];
    one_line(line, sizeof line, s);
    fputs(line, f);
    return (int)strlen(line);
}

/* "simrep: <kind>: " and the message, on one line (one_line). */
static void put_message(const char *kind, const char *fmt, va_list ap)
{
    char text[4096 + 1024], line[4 * sizeof text];
    vsnprintf(text, sizeof text, fmt, ap);
    one_line(line, sizeof line, text);
    fprintf(stderr, "simrep: %s: %s\n", kind, line);
}

int cli_error(int code, const char *fmt, ...)
{
    if (cli_interrupted()) /* what fails after Ctrl-C is its consequence: cli_finish says it once */
        return code;
    va_list ap;
    va_start(ap, fmt);
    if (held) {
        if (!held_error[0]) { /* printed later as it is (parallel.c): on one line now */
            char raw[sizeof held_error];
            vsnprintf(raw, sizeof raw, fmt, ap);
            one_line(held_error, sizeof held_error, raw);
        }
        va_end(ap);
        return code;
    }
    put_message("error", fmt, ap);
    va_end(ap);
    return code;
}

void cli_warning(const char *fmt, ...)
{
    if (held)
        return;
    va_list ap;
    va_start(ap, fmt);
    put_message("warning", fmt, ap);
    va_end(ap);
}

int cli_library_error(simrep_ctx *ctx, simrep_status st, const char *x_spec, const char *y_spec)
{
    if (st == SIMREP_E_CANCELLED) /* cli_finish says it once */
        return 128 + (cli_interrupted() ? cli_interrupted() : SIGINT);
    const char *msg = simrep_ctx_message(ctx);
    if (!msg || !*msg)
        msg = simrep_strerror(st);
    /* Which input failed is the context's to say (simrep_ctx_error), not
     * the message's: a message about x or y (its name in front) names the
     * file instead. */
    simrep_error_info e;
    simrep_ctx_error(ctx, &e);
    const char *spec = e.input == 0 ? x_spec : e.input == 1 ? y_spec : NULL;
    if (spec && !e.file[0] && e.detail != simrep_ctx_message(ctx))
        return cli_error(EXIT_DATA, "%s: %s", spec, e.detail);
    /* About neither input alone (out of memory for the pair's moments, a
     * LAPACK failure on their joint covariance): about both, so named. */
    if (x_spec && y_spec && e.input < 0 && !e.file[0] && st != SIMREP_E_INVALID)
        return cli_error(EXIT_DATA, "%s and %s: %s", x_spec, y_spec, msg);
    return cli_error(st == SIMREP_E_INVALID ? EXIT_USAGE : EXIT_DATA, "%s", msg);
}

void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        const int len = simrep_utf8_length((const char *)c);
        if (len == 0) {
            /* A byte that is not UTF-8 (a Latin-1 file name): the lone
             * surrogate U+DC00 + byte, as Python's os.fsdecode
             * (surrogateescape) reads it, so os.fsencode gives the name back. */
            fprintf(f, "\\udc%02x", *c);
            continue;
        }
        if (len > 1) {
            fwrite(c, 1, (size_t)len, f);
            c += len - 1;
            continue;
        }
        switch (*c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*c < 0x20)
                fprintf(f, "\\u%04x", *c);
            else
                fputc(*c, f);
        }
    }
    fputc('"', f);
}

void json_number(FILE *f, double v)
{
    if (!isfinite(v)) {
        /* Unreachable by design (the library reports undefined values as
         * errors); keep the output valid JSON if it ever happens. */
        fputs("null", f);
        return;
    }
    fprintf(f, "%.17g", v);
}

/* The library's progress callback: one line on stderr, redrawn in place at
 * most ten times a second (and whenever the stage changes). */
typedef struct progress_line {
    char stage[64];
    double last;
} progress_line;

static void draw_progress(void *user, const char *stage, double fraction)
{
    progress_line *pl = user;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const double now = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    const int same = strcmp(pl->stage, stage) == 0;
    if (same && now - pl->last < 0.1 && fraction < 1.0)
        return;
    snprintf(pl->stage, sizeof pl->stage, "%s", stage);
    pl->last = now;
    fprintf(stderr, "\r\033[Ksimrep: %s %3d%%", stage, (int)(100 * fraction));
    fflush(stderr);
}

void cli_progress_attach(simrep_ctx *ctx)
{
    static progress_line line; /* one CLI process, one progress line */
    if (isatty(2))
        simrep_ctx_set_progress(ctx, draw_progress, &line);
}

void cli_progress_end(simrep_ctx *ctx)
{
    (void)ctx;
    if (isatty(2))
        fputs("\r\033[K", stderr);
}
