/*
 * limits.c: how much memory this process may use, and sizes written for
 * people.
 *
 * The up-front checks ("these features need 24 GiB") compare a need with
 * what the process may really use, which is the smallest of: the machine's
 * physical memory, the address-space limit (RLIMIT_AS, `ulimit -v`), and
 * the memory controller of the process's control group (cgroup v2
 * memory.max of its cgroup and every ancestor; v1 memory.limit_in_bytes).
 * A container or a batch job usually has far less than the machine; a
 * check against physical memory alone let such a run start and be killed
 * half-way.  The cgroup file system is read under /sys/fs/cgroup, or under
 * $SIMREP_CGROUP_ROOT (for the tests: a directory laid out the same way).
 *
 * Sizes are printed in the unit that gives a readable number (B, KiB, MiB,
 * GiB, TiB; binary multiples, the ones --max-memory's suffixes mean): "need
 * 0.00 GiB ... more than 0.00 GiB" said nothing.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

void cli_size_text(double bytes, char *buf, size_t cap)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    double v = bytes;
    while (v >= 1024.0 && u < 5)
        v /= 1024.0, u++;
    if (u == 0)
        snprintf(buf, cap, "%.0f B", bytes);
    else
        snprintf(buf, cap, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

/* The number in a cgroup file ("max" and unreadable files: no limit). */
static double cgroup_value(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[64] = "";
    double v = 0;
    if (fgets(line, sizeof line, f) && line[0] >= '0' && line[0] <= '9')
        v = strtod(line, NULL);
    fclose(f);
    return v >= 9.0e18 ? 0 : v; /* v1 says "no limit" with a huge number */
}

/* The smallest memory limit of this process's cgroup and its ancestors
 * (0: none). */
static double cgroup_limit(const char **which)
{
    const char *env = getenv("SIMREP_CGROUP_ROOT"), *root = env && *env ? env : "/sys/fs/cgroup";
    char self[512];
    snprintf(self, sizeof self, "%s/self.cgroup", root); /* a test root carries its own /proc/self/cgroup */
    FILE *f = fopen(env && *env ? self : "/proc/self/cgroup", "r");
    if (!f)
        return 0;
    char line[1024];
    double best = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        const char *file = NULL;
        char *path = NULL, sub[1024];
        if (strncmp(line, "0::", 3) == 0) {
            file = "memory.max";
            path = line + 3;
            snprintf(sub, sizeof sub, "%s", "");
        } else if (strstr(line, ":memory:")) {
            file = "memory.limit_in_bytes";
            path = strstr(line, ":memory:") + 8;
            snprintf(sub, sizeof sub, "%s", "/memory");
        } else {
            continue;
        }
        /* The cgroup and each ancestor: every limit on the way applies. */
        char dir[1024];
        snprintf(dir, sizeof dir, "%s", path);
        for (;;) {
            char p[2200];
            snprintf(p, sizeof p, "%s%s%s/%s", root, sub, strcmp(dir, "/") == 0 ? "" : dir, file);
            double v = cgroup_value(p);
            if (v > 0 && (best == 0 || v < best))
                best = v, *which = file;
            char *slash = strrchr(dir, '/');
            if (!slash || strcmp(dir, "/") == 0 || !dir[0])
                break;
            if (slash == dir)
                snprintf(dir, sizeof dir, "%s", "/");
            else
                *slash = 0;
        }
    }
    fclose(f);
    return best;
}

double cli_memory_limit(char *what, size_t cap)
{
    double have = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    snprintf(what, cap, "%s", "this machine's memory");
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (have <= 0 || (double)rl.rlim_cur < have)) {
        have = (double)rl.rlim_cur;
        snprintf(what, cap, "%s", "this process's address-space limit (ulimit -v)");
    }
    const char *which = "memory.max";
    double cg = cgroup_limit(&which);
    if (cg > 0 && (have <= 0 || cg < have)) {
        have = cg;
        snprintf(what, cap, "this process's cgroup memory limit (%s)", which);
    }
    return have;
}
