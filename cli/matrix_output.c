/*
 * matrix_output.c: what `simrep matrix` prints and writes: the JSON object
 * (the contract of issue #3, keys only ever added), a text table, a long
 * CSV, and with -o DIR the CSV matrices, tables and SVG figures.
 *
 * JSON shape:
 *   {"n", "names": [...], "groups": [...],
 *    "inputs": [{"name", "path", "line", "features", "kept", "fields": {<every manifest column>}}],
 *    "measures": {"<id>": {"distance": [[...]], "similarity": [[...]]}},
 *    "group_summary": {"<id>": {"within": {"<g>": mean}, "between": {"<g1>|<g2>": mean},
 *                               "within_std", "between_std", "within_pairs", "between_pairs"}},
 *    "clustering": {"<id>": {"linkage": "average", "order": [...], "merges": [[left, right, height, size]]}},
 *    "mds": {"<id>": {"coords": [[x, y]], "eigenvalues": [l1, l2]}},
 *    "training": [...] (with step columns), "depth": {...} (with layer and group columns),
 *    "passes", "warnings": [...]}
 * Group summaries are means of the distance over pairs (within: pairs
 * inside a group of at least 2 inputs; between: one input in each group),
 * with the sample standard deviation (ddof 1, 0 for one pair).  Clustering
 * and MDS use the distance too; heatmaps colour the similarity.  The text
 * tables size their label column to the longest group label ("a vs b",
 * elided past 60 characters); with --permutations/--bootstrap
 * group_summary.csv gains the JSON's intervals and tests as columns
 * (matrix_stats.c, docs/statistics.md).
 */
#include "matrix.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const mx_run *sort_run;

static int by_group_layer_step(const void *pa, const void *pb)
{
    const mx_input *a = &sort_run->in[*(const int *)pa], *b = &sort_run->in[*(const int *)pb];
    if (a->group != b->group)
        return a->group < b->group ? -1 : 1;
    if (a->layer != b->layer)
        return a->layer < b->layer ? -1 : 1;
    if (a->step != b->step)
        return a->step < b->step ? -1 : 1;
    return *(const int *)pa - *(const int *)pb;
}

static void views_free(const mx_run *r, mx_views *v, simrep_ctx *ctx)
{
    for (int t = 0; t < r->nmeasures; t++) {
        simrep_linkage_clear(ctx, &v->tree[t]);
        free(v->mds[t]);
    }
    free(v->sorted);
}

/* ctx (the linkages' allocator) lives as long as v. */
static int views_compute(const mx_run *r, mx_views *v, simrep_ctx *ctx)
{
    memset(v, 0, sizeof *v);
    int K = r->K;
    for (int t = 0; t < r->nmeasures; t++) {
        simrep_status st = simrep_cluster_average(ctx, K, r->dist[t], K, &v->tree[t]);
        if (st != SIMREP_OK)
            return cli_error(EXIT_DATA, "clustering of the %s distances: %s", mx_measure_id(r, t),
                             simrep_ctx_message(ctx));
        v->mds[t] = calloc((size_t)K * 2, sizeof(double));
        if (!v->mds[t])
            return cli_error(EXIT_DATA, "out of memory");
        st = simrep_mds(ctx, K, r->dist[t], K, 2, v->mds[t], v->mds_ev[t]);
        if (st != SIMREP_OK)
            return cli_error(EXIT_DATA, "MDS of the %s distances: %s", mx_measure_id(r, t), simrep_ctx_message(ctx));
    }
    v->sorted = malloc((size_t)K * sizeof *v->sorted);
    if (!v->sorted)
        return cli_error(EXIT_DATA, "out of memory");
    for (int i = 0; i < K; i++)
        v->sorted[i] = i;
    sort_run = r;
    qsort(v->sorted, (size_t)K, sizeof *v->sorted, by_group_layer_step);
    return 0;
}

const char *mx_measure_id(const mx_run *r, int t)
{
    return simrep_measure_get_info(r->measures[t])->id;
}

static const char *mid(const mx_run *r, int t)
{
    return mx_measure_id(r, t);
}

int mx_depth_rows(const mx_run *r, int g, int *out)
{
    int c = 0;
    for (int l = 0; l < r->nlayers; l++)
        for (int i = 0; i < r->K; i++)
            if (r->in[i].group == g && r->in[i].layer == l)
                out[c++] = i;
    return c;
}

/* ----------------------------------------------------------------- JSON */

static void json_matrix(FILE *f, const double *m, int K)
{
    fputc('[', f);
    for (int i = 0; i < K; i++) {
        fputs(i ? ",\n    [" : "[", f);
        for (int j = 0; j < K; j++) {
            if (j)
                fputs(", ", f);
            json_number(f, m[(size_t)i * K + j]);
        }
        fputc(']', f);
    }
    fputc(']', f);
}

static void json_pair_key(FILE *f, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);
    if (!s)
        return;
    memcpy(s, a, la);
    s[la] = '|';
    memcpy(s + la + 1, b, lb + 1);
    json_string(f, s);
    free(s);
}

static void json_group_summary(FILE *f, const mx_run *r, int t)
{
    static const char *keys[3] = {"", "_std", "_pairs"};
    for (int part = 0; part < 2; part++)
        for (int k = 0; k < 3; k++) {
            fprintf(f, "%s\"%s%s\": {", part || k ? ", " : "", part ? "between" : "within", keys[k]);
            int first = 1;
            for (int a = 0; a < r->ngroups; a++)
                for (int b = part ? a + 1 : a; b < (part ? r->ngroups : a + 1); b++) {
                    int *grp = malloc((size_t)r->K * sizeof *grp);
                    if (!grp)
                        return;
                    for (int i = 0; i < r->K; i++)
                        grp[i] = r->in[i].group;
                    group_stat s = group_summary(r->K, r->dist[t], grp, a, b);
                    free(grp);
                    if (s.count == 0)
                        continue;
                    if (!first)
                        fputs(", ", f);
                    first = 0;
                    if (part)
                        json_pair_key(f, r->groups[a], r->groups[b]);
                    else
                        json_string(f, r->groups[a]);
                    fputs(": ", f);
                    if (k == 2)
                        fprintf(f, "%lld", (long long)s.count);
                    else
                        json_number(f, k == 0 ? s.mean : s.std);
                }
            fputc('}', f);
        }
}

static void print_json(const mx_run *r, const mx_views *v)
{
    FILE *f = stdout;
    int K = r->K;
    const manifest *m = &r->man;
    fprintf(f, "{\"n\": %lld,\n \"names\": [", (long long)r->in[0].n);
    for (int i = 0; i < K; i++) {
        if (i)
            fputs(", ", f);
        json_string(f, r->in[i].name);
    }
    fputs("],\n \"groups\": [", f);
    for (int i = 0; i < K; i++) {
        if (i)
            fputs(", ", f);
        json_string(f, r->groups[r->in[i].group]);
    }
    fputs("],\n \"inputs\": [", f);
    for (int i = 0; i < K; i++) {
        fputs(i ? ",\n  {\"name\": " : "\n  {\"name\": ", f);
        json_string(f, r->in[i].name);
        fputs(", \"path\": ", f);
        json_string(f, r->in[i].spec);
        fprintf(f, ", \"line\": %d, \"features\": %lld", r->in[i].line, (long long)r->in[i].p);
        if (r->in[i].kept >= 0)
            fprintf(f, ", \"kept\": %lld", (long long)r->in[i].kept);
        fputs(", \"fields\": {", f);
        for (int c = 0; c < m->ncols; c++) {
            if (c)
                fputs(", ", f);
            json_string(f, m->cols[c]);
            fputs(": ", f);
            json_string(f, manifest_cell(m, i, c));
        }
        fputs("}}", f);
    }
    fputs("],\n \"measures\": {", f);
    for (int t = 0; t < r->nmeasures; t++) {
        fprintf(f, "%s\n  \"%s\": {\"distance\": ", t ? "," : "", mid(r, t));
        json_matrix(f, r->dist[t], K);
        fputs(",\n   \"similarity\": ", f);
        json_matrix(f, r->sim[t], K);
        fputc('}', f);
    }
    fputs("},\n \"group_summary\": {", f);
    for (int t = 0; t < r->nmeasures; t++) {
        fprintf(f, "%s\n  \"%s\": {", t ? "," : "", mid(r, t));
        json_group_summary(f, r, t);
        mx_group_stats gs;
        if (mx_stats_compute(r, t, &gs) == 0) {
            mx_stats_json(f, r, &gs);
            mx_stats_free(&gs);
        }
        fputc('}', f);
    }
    fputs("},\n \"clustering\": {", f);
    for (int t = 0; t < r->nmeasures; t++) {
        const simrep_linkage *c = &v->tree[t];
        fprintf(f, "%s\n  \"%s\": {\"linkage\": \"average\", \"order\": [", t ? "," : "", mid(r, t));
        for (int i = 0; i < K; i++)
            fprintf(f, "%s%lld", i ? ", " : "", (long long)c->order[i]);
        fputs("], \"merges\": [", f);
        for (int k = 0; k < K - 1; k++) {
            fprintf(f, "%s[%lld, %lld, ", k ? ", " : "", (long long)c->left[k], (long long)c->right[k]);
            json_number(f, c->height[k]);
            fprintf(f, ", %lld]", (long long)c->size[k]);
        }
        fputs("]}", f);
    }
    fputs("},\n \"mds\": {", f);
    for (int t = 0; t < r->nmeasures; t++) {
        fprintf(f, "%s\n  \"%s\": {\"coords\": [", t ? "," : "", mid(r, t));
        for (int i = 0; i < K; i++) {
            fputs(i ? ", [" : "[", f);
            json_number(f, v->mds[t][2 * i]);
            fputs(", ", f);
            json_number(f, v->mds[t][2 * i + 1]);
            fputc(']', f);
        }
        fputs("], \"eigenvalues\": [", f);
        json_number(f, v->mds_ev[t][0]);
        fputs(", ", f);
        json_number(f, v->mds_ev[t][1]);
        fputs("]}", f);
    }
    fputc('}', f);
    if (r->training) {
        fputs(",\n \"training\": [", f);
        for (int k = 0; k < K; k++) {
            int i = v->sorted[k], fin = r->final_of[i];
            fputs(k ? ",\n  {\"name\": " : "\n  {\"name\": ", f);
            json_string(f, r->in[i].name);
            fputs(", \"group\": ", f);
            json_string(f, r->groups[r->in[i].group]);
            fputs(", \"layer\": ", f);
            json_string(f, r->in[i].layer >= 0 ? r->layers[r->in[i].layer] : "");
            fputs(", \"step\": ", f);
            json_number(f, r->in[i].step);
            fputs(", \"final\": ", f);
            json_string(f, r->in[fin].name);
            for (int part = 0; part < 2; part++) {
                fprintf(f, ", \"%s\": {", part ? "similarity" : "distance");
                for (int t = 0; t < r->nmeasures; t++) {
                    fprintf(f, "%s\"%s\": ", t ? ", " : "", mid(r, t));
                    json_number(f, (part ? r->sim[t] : r->dist[t])[(size_t)i * K + fin]);
                }
                fputc('}', f);
            }
            fputc('}', f);
        }
        fputc(']', f);
    }
    if (r->depth) {
        int *ra = malloc((size_t)K * sizeof *ra), *rb = malloc((size_t)K * sizeof *rb);
        fputs(",\n \"depth\": {", f);
        for (int t = 0; t < r->nmeasures && ra && rb; t++) {
            fprintf(f, "%s\n  \"%s\": {", t ? "," : "", mid(r, t));
            int first = 1;
            for (int a = 0; a < r->ngroups; a++)
                for (int b = a + 1; b < r->ngroups; b++) {
                    int na = mx_depth_rows(r, a, ra), nb = mx_depth_rows(r, b, rb);
                    fputs(first ? "\n   " : ",\n   ", f);
                    first = 0;
                    json_pair_key(f, r->groups[a], r->groups[b]);
                    fputs(": {\"rows\": [", f);
                    for (int x = 0; x < na; x++) {
                        fputs(x ? ", " : "", f);
                        json_string(f, r->layers[r->in[ra[x]].layer]);
                    }
                    fputs("], \"cols\": [", f);
                    for (int y = 0; y < nb; y++) {
                        fputs(y ? ", " : "", f);
                        json_string(f, r->layers[r->in[rb[y]].layer]);
                    }
                    fputc(']', f);
                    for (int part = 0; part < 2; part++) {
                        fprintf(f, ", \"%s\": [", part ? "similarity" : "distance");
                        for (int x = 0; x < na; x++) {
                            fputs(x ? ", [" : "[", f);
                            for (int y = 0; y < nb; y++) {
                                fputs(y ? ", " : "", f);
                                json_number(f, (part ? r->sim[t] : r->dist[t])[(size_t)ra[x] * K + rb[y]]);
                            }
                            fputc(']', f);
                        }
                        fputc(']', f);
                    }
                    fputc('}', f);
                }
            fputc('}', f);
        }
        fputc('}', f);
        free(ra);
        free(rb);
    }
    if (r->nerrors) { /* measures left out: undefined for some pair */
        fputs(",\n \"errors\": {", f);
        for (int e = 0; e < r->nerrors; e++) {
            fprintf(f, "%s\"%s\": ", e ? ", " : "", r->error_ids[e]);
            json_string(f, r->error_msgs[e]);
        }
        fputc('}', f);
    }
    fprintf(f, ",\n \"passes\": %d,\n \"warnings\": [", r->passes);
    for (int w = 0; w < r->nwarnings; w++) {
        if (w)
            fputs(", ", f);
        json_string(f, r->warnings[w]);
    }
    fputs("]}\n", f);
}

/* ---------------------------------------------------------- table, CSV */

static void csv_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Characters (UTF-8 code points) of s. */
static int text_chars(const char *s)
{
    int n = 0;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        n += (*c & 0xC0) != 0x80;
    return n;
}

/* s elided in the middle to w characters and padded to w columns (right:
 * right-aligned). */
void mx_print_text(const char *s, int w, int right)
{
    char buf[4 * 64 + 8];
    simrep_elide(s, w, buf, sizeof buf);
    int pad = w - text_chars(buf);
    if (right)
        printf("%*s%s", pad > 0 ? pad : 0, "", buf);
    else
        printf("%s%*s", buf, pad > 0 ? pad : 0, "");
}

/* The group tables' labels (a group's name, "a vs b", "all groups"): wide
 * enough for the longest (at least 24, at most 60 characters). */
int mx_group_width(const mx_run *r)
{
    int w = 24;
    for (int a = 0; a < r->ngroups; a++) {
        const int la = text_chars(r->groups[a]);
        w = la > w ? la : w;
        for (int b = a + 1; b < r->ngroups; b++) {
            const int lab = la + 4 + text_chars(r->groups[b]);
            w = lab > w ? lab : w;
        }
    }
    return w < 60 ? w : 60;
}

void mx_print_group(const mx_run *r, int a, int b, int w)
{
    if (a < 0) {
        mx_print_text("all groups", w, 0);
    } else if (a == b) {
        mx_print_text(r->groups[a], w, 0);
    } else {
        /* "a vs b"; when both do not fit, a keeps its length up to half
         * the room (more if b is short) and both are elided to their share */
        const int la = text_chars(r->groups[a]), lb = text_chars(r->groups[b]), room = w - 4;
        int wa = la;
        if (la + lb > room) {
            const int half = room / 2 > room - lb ? room / 2 : room - lb;
            wa = la < half ? la : half;
        }
        mx_print_text(r->groups[a], wa, 0);
        fputs(" vs ", stdout);
        mx_print_text(r->groups[b], room - wa, 0);
    }
}

/* The table: row names up to 32 characters, columns 8 to 16 wide, longer
 * names elided in the middle (the ends of a name are what tell runs apart:
 * "resnet50_seed1_layer4" vs "resnet50_seed2_layer4"). */
static void print_table(const mx_run *r, const mx_views *v)
{
    int K = r->K, longest = 1;
    for (int i = 0; i < K; i++) {
        int len = text_chars(r->in[i].name);
        longest = len > longest ? len : longest;
    }
    int rw = longest < 32 ? longest : 32, cw = longest < 8 ? 8 : longest > 16 ? 16 : longest;
    printf("n = %lld samples, %d inputs, %d pair%s%s\n", (long long)r->in[0].n, K, K * (K - 1) / 2,
           K * (K - 1) / 2 == 1 ? "" : "s", r->passes > 1 ? " (several passes: see --max-memory)" : "");
    for (int t = 0; t < r->nmeasures; t++) {
        printf("\n%s similarity (rows and columns in manifest order)\n%*s", mid(r, t), rw, "");
        for (int j = 0; j < K; j++) {
            putchar(' ');
            mx_print_text(r->in[j].name, cw, 1);
        }
        putchar('\n');
        for (int i = 0; i < K; i++) {
            mx_print_text(r->in[i].name, rw, 0);
            for (int j = 0; j < K; j++)
                printf(" %*.4f", cw, r->sim[t][(size_t)i * K + j]);
            putchar('\n');
        }
        if (r->has_group_column) {
            int *grp = malloc((size_t)K * sizeof *grp);
            if (!grp)
                return;
            for (int i = 0; i < K; i++)
                grp[i] = r->in[i].group;
            const int gw = mx_group_width(r);
            printf("%s distance by group (mean, std, pairs):\n", mid(r, t));
            for (int a = 0; a < r->ngroups; a++)
                for (int b = a; b < r->ngroups; b++) {
                    group_stat s = group_summary(K, r->dist[t], grp, a, b);
                    if (s.count == 0)
                        continue;
                    fputs(a == b ? "  within  " : "  between ", stdout);
                    mx_print_group(r, a, b, gw);
                    printf(" %.4f  %.4f  %lld\n", s.mean, s.std, (long long)s.count);
                }
            free(grp);
            mx_group_stats gs;
            if (mx_stats_compute(r, t, &gs) == 0) {
                mx_stats_table(r, &gs);
                mx_stats_free(&gs);
            }
        }
    }
    if (r->training) {
        printf("\ntraining dynamics: distance to the same layer at the last step\n%-12s %-12s %10s",
               "group", "layer", "step");
        for (int t = 0; t < r->nmeasures; t++)
            printf(" %12s", mid(r, t));
        putchar('\n');
        for (int k = 0; k < K; k++) {
            int i = v->sorted[k];
            printf("%-12s %-12s %10g", r->groups[r->in[i].group], r->in[i].layer >= 0 ? r->layers[r->in[i].layer] : "",
                   r->in[i].step);
            for (int t = 0; t < r->nmeasures; t++)
                printf(" %12.6f", r->dist[t][(size_t)i * K + r->final_of[i]]);
            putchar('\n');
        }
    }
}

int matrix_print(const mx_run *r, int format)
{
    for (int w = 0; w < r->nwarnings && format != MX_FORMAT_JSON; w++)
        cli_warning("%s", r->warnings[w]);
    if (format == MX_FORMAT_CSV) {
        puts("measure,x,y,similarity,distance");
        for (int t = 0; t < r->nmeasures; t++)
            for (int i = 0; i < r->K; i++)
                for (int j = i + 1; j < r->K; j++) {
                    printf("%s,", mid(r, t));
                    csv_field(stdout, r->in[i].name);
                    putchar(',');
                    csv_field(stdout, r->in[j].name);
                    printf(",%.17g,%.17g\n", r->sim[t][(size_t)i * r->K + j], r->dist[t][(size_t)i * r->K + j]);
                }
        return 0;
    }
    mx_views v;
    simrep_ctx *ctx = cli_ctx_new();
    if (!ctx)
        return cli_error(EXIT_DATA, "out of memory");
    int rc = views_compute(r, &v, ctx);
    if (rc == 0) {
        if (format == MX_FORMAT_JSON)
            print_json(r, &v);
        else
            print_table(r, &v);
    }
    views_free(r, &v, ctx);
    simrep_ctx_free(ctx);
    fflush(stdout);
    return rc;
}

/* ------------------------------------------------------------- -o DIR */

typedef mx_outdir outdir;

void mx_safe_name(char *dst, size_t cap, const char *s)
{
    size_t k = 0;
    for (; *s && k + 1 < cap && k < 60; s++) {
        char c = *s;
        dst[k++] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '_') ? c : '_';
    }
    dst[k] = 0;
}

int mx_outdir_prepare(const char *dir, int *created)
{
    int made = mkdir(dir, 0777) == 0;
    if (created)
        *created = made;
    if (!made && errno != EEXIST)
        return cli_error(EXIT_DATA, "%s: cannot create the output directory: %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return cli_error(EXIT_DATA, "%s: not a directory", dir);
    char probe[4096];
    if (snprintf(probe, sizeof probe, "%s/.simrep-probe.XXXXXX", dir) >= (int)sizeof probe)
        return cli_error(EXIT_DATA, "%s: %s", dir, strerror(ENAMETOOLONG));
    int fd = mkstemp(probe);
    if (fd < 0)
        return cli_error(EXIT_DATA, "%s: cannot write in the output directory: %s", dir, strerror(errno));
    close(fd);
    unlink(probe);
    return -1;
}

FILE *mx_out_open(outdir *o, const char *name)
{
    snprintf(o->path, sizeof o->path, "%s/%s", o->dir, name);
    FILE *f = cli_file_open(&o->file, o->path);
    if (!f)
        o->failed = 1;
    return f;
}

void mx_out_close(outdir *o, FILE *f, int rc)
{
    if (f && cli_file_commit(&o->file, rc) != 0)
        o->failed = 1;
}

static void write_square_csv(outdir *o, const mx_run *r, const char *file, const double *m)
{
    FILE *f = mx_out_open(o, file);
    if (!f)
        return;
    fputs("name", f);
    for (int j = 0; j < r->K; j++) {
        fputc(',', f);
        csv_field(f, r->in[j].name);
    }
    fputc('\n', f);
    for (int i = 0; i < r->K; i++) {
        csv_field(f, r->in[i].name);
        for (int j = 0; j < r->K; j++)
            fprintf(f, ",%.17g", m[(size_t)i * r->K + j]);
        fputc('\n', f);
    }
    mx_out_close(o, f, ferror(f));
}

static void write_training(outdir *o, const mx_run *r, const mx_views *v)
{
    int K = r->K;
    FILE *f = mx_out_open(o, "training.csv");
    if (!f)
        return;
    fputs("name,group,layer,step,final", f);
    for (int t = 0; t < r->nmeasures; t++)
        fprintf(f, ",%s_distance,%s_similarity", mid(r, t), mid(r, t));
    fputc('\n', f);
    for (int k = 0; k < K; k++) {
        int i = v->sorted[k], fin = r->final_of[i];
        csv_field(f, r->in[i].name);
        fputc(',', f);
        csv_field(f, r->groups[r->in[i].group]);
        fputc(',', f);
        csv_field(f, r->in[i].layer >= 0 ? r->layers[r->in[i].layer] : "");
        fprintf(f, ",%.17g,", r->in[i].step);
        csv_field(f, r->in[fin].name);
        for (int t = 0; t < r->nmeasures; t++)
            fprintf(f, ",%.17g,%.17g", r->dist[t][(size_t)i * K + fin], r->sim[t][(size_t)i * K + fin]);
        fputc('\n', f);
    }
    mx_out_close(o, f, ferror(f));
}

static void write_depth(outdir *o, const mx_run *r)
{
    int K = r->K;
    int *ra = malloc((size_t)K * sizeof *ra), *rb = malloc((size_t)K * sizeof *rb);
    FILE *f = ra && rb ? mx_out_open(o, "depth.csv") : NULL;
    if (f) {
        fputs("measure,group_x,group_y,layer_x,layer_y,name_x,name_y,similarity,distance\n", f);
        for (int t = 0; t < r->nmeasures; t++)
            for (int a = 0; a < r->ngroups; a++)
                for (int b = a + 1; b < r->ngroups; b++) {
                    int na = mx_depth_rows(r, a, ra), nb = mx_depth_rows(r, b, rb);
                    for (int x = 0; x < na; x++)
                        for (int y = 0; y < nb; y++) {
                            int i = ra[x], j = rb[y];
                            fprintf(f, "%s,", mid(r, t));
                            csv_field(f, r->groups[a]);
                            fputc(',', f);
                            csv_field(f, r->groups[b]);
                            fputc(',', f);
                            csv_field(f, r->layers[r->in[i].layer]);
                            fputc(',', f);
                            csv_field(f, r->layers[r->in[j].layer]);
                            fputc(',', f);
                            csv_field(f, r->in[i].name);
                            fputc(',', f);
                            csv_field(f, r->in[j].name);
                            fprintf(f, ",%.17g,%.17g\n", r->sim[t][(size_t)i * K + j], r->dist[t][(size_t)i * K + j]);
                        }
                }
        mx_out_close(o, f, ferror(f));
    } else if (!(ra && rb)) {
        cli_error(EXIT_DATA, "out of memory");
        o->failed = 1;
    }
    free(ra), free(rb);
}

int matrix_write_dir(const mx_run *r, const char *dir)
{
    int rc = mx_outdir_prepare(dir, NULL);
    if (rc >= 0)
        return rc;
    mx_views v;
    simrep_ctx *ctx = cli_ctx_new();
    if (!ctx)
        return cli_error(EXIT_DATA, "out of memory");
    if (views_compute(r, &v, ctx) != 0) {
        views_free(r, &v, ctx);
        simrep_ctx_free(ctx);
        return EXIT_DATA;
    }
    outdir o;
    memset(&o, 0, sizeof o);
    o.dir = dir;
    int K = r->K;
    const manifest *m = &r->man;
    char file[128];
    for (int t = 0; t < r->nmeasures && !o.failed; t++) {
        snprintf(file, sizeof file, "%s_similarity.csv", mid(r, t));
        write_square_csv(&o, r, file, r->sim[t]);
        snprintf(file, sizeof file, "%s_distance.csv", mid(r, t));
        if (!o.failed)
            write_square_csv(&o, r, file, r->dist[t]);
    }
    FILE *f = o.failed ? NULL : mx_out_open(&o, "inputs.csv");
    if (f) {
        for (int c = 0; c < m->ncols; c++) {
            csv_field(f, m->cols[c]);
            fputc(',', f);
        }
        fputs("resolved_path,features,kept\n", f);
        for (int i = 0; i < K; i++) {
            for (int c = 0; c < m->ncols; c++) {
                csv_field(f, manifest_cell(m, i, c));
                fputc(',', f);
            }
            csv_field(f, r->in[i].spec);
            fprintf(f, ",%lld,", (long long)r->in[i].p);
            if (r->in[i].kept >= 0)
                fprintf(f, "%lld", (long long)r->in[i].kept);
            fputc('\n', f);
        }
        mx_out_close(&o, f, ferror(f));
    }
    f = o.failed ? NULL : mx_out_open(&o, "group_summary.csv");
    if (f) {
        /* With --permutations/--bootstrap: the intervals and tests of the
         * JSON as columns after "pairs", and a row "all" (every group
         * pooled: mean_distance is the mean between groups). */
        const int with_stats = r->has_group_column && (r->stats.o.permutations > 0 || r->stats.o.bootstrap > 0);
        int *grp = malloc((size_t)K * sizeof *grp);
        int bad = !grp;
        fprintf(f, "measure,kind,group_x,group_y,mean_distance,std,pairs%s\n", with_stats ? mx_stats_csv_header() : "");
        for (int i = 0; grp && i < K; i++)
            grp[i] = r->in[i].group;
        for (int t = 0; grp && !bad && t < r->nmeasures; t++) {
            mx_group_stats gs;
            memset(&gs, 0, sizeof gs);
            if (with_stats && mx_stats_compute(r, t, &gs) != 0) {
                bad = 1;
                break;
            }
            for (int a = 0; a < r->ngroups; a++)
                for (int b = a; b < r->ngroups; b++) {
                    group_stat s = group_summary(K, r->dist[t], grp, a, b);
                    if (s.count == 0)
                        continue;
                    fprintf(f, "%s,%s,", mid(r, t), a == b ? "within" : "between");
                    csv_field(f, r->groups[a]);
                    fputc(',', f);
                    csv_field(f, r->groups[b]);
                    fprintf(f, ",%.17g,%.17g,%lld", s.mean, s.std, (long long)s.count);
                    if (with_stats)
                        mx_stats_csv_cells(f, r, &gs, a, b);
                    fputc('\n', f);
                }
            for (int k = 0; with_stats && gs.ok && r->stats.o.permutations > 0 && k < gs.ntests; k++)
                if (gs.tests[k].a < 0 && isfinite(gs.tests[k].between)) {
                    fprintf(f, "%s,all,,,%.17g,,", mid(r, t), gs.tests[k].between);
                    mx_stats_csv_cells(f, r, &gs, -1, -1);
                    fputc('\n', f);
                }
            mx_stats_free(&gs);
        }
        free(grp);
        mx_out_close(&o, f, ferror(f) || bad);
    }
    if (r->training && !o.failed)
        write_training(&o, r, &v);
    if (r->depth && !o.failed)
        write_depth(&o, r);
    if (!o.failed)
        matrix_write_figures(&o, r, &v);
    views_free(r, &v, ctx);
    simrep_ctx_free(ctx);
    return o.failed ? EXIT_DATA : 0;
}

void mx_csv_field(FILE *f, const char *s)
{
    csv_field(f, s);
}
