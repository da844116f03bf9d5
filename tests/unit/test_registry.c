/*
 * test_registry.c: the measure registry and the options table (measures.c)
 * hold together: every measure has every field (ids unique, family and the
 * old needs_rows/needs_maps flags agree, ranges ordered, options and
 * outputs name real bits, a paper and a reference), every option round-
 * trips through simrep_options_set/get at its bounds and refuses values
 * just outside them with the message the CLI and Python print, and the
 * cost model and defaults are sane.  The values themselves are tested by
 * the measures' own suites and by tests/python_pkg/test_registry.py, which
 * applies every invariance a measure claims.
 */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "simrep.h"

static void test_measure_rows(void)
{
    for (int m = 0; m < SIMREP_MEASURE_COUNT; m++) {
        const simrep_measure_info *in = simrep_measure_get_info((simrep_measure)m);
        CHECK(in != NULL);
        if (!in)
            continue;
        CHECK(in->id && in->title && in->similarity && in->distance && in->invariances && in->reference &&
              in->paper && *in->paper);
        CHECK(simrep_measure_from_id(in->id) == m);
        CHECK((int)in->family >= 0 && in->family < SIMREP_FAMILY_COUNT);
        CHECK(in->needs_rows == (in->family == SIMREP_FAMILY_ROWS || in->family == SIMREP_FAMILY_MAPS));
        CHECK(in->needs_maps == (in->family == SIMREP_FAMILY_MAPS));
        CHECK(in->similarity_min < in->similarity_max && in->distance_min < in->distance_max);
        CHECK(in->options < (1u << SIMREP_OPTION_COUNT));
        CHECK(in->outputs < (1u << SIMREP_OUT_COUNT));
        CHECK(in->invariant < (1u << SIMREP_INV_COUNT));
        /* A measure invariant to every invertible linear map is invariant to
         * their subgroups; a metric is symmetric. */
        if (in->invariant & SIMREP_INV_LINEAR)
            CHECK((in->invariant & (SIMREP_INV_ORTHOGONAL | SIMREP_INV_SCALE)) ==
                  (SIMREP_INV_ORTHOGONAL | SIMREP_INV_SCALE));
        if (in->metric)
            CHECK(in->invariant & SIMREP_INV_SWAP);
        CHECK(simrep_measure_pair_cost((simrep_measure)m, 100, 10, 20) > 0);
        CHECK(simrep_measure_input_cost((simrep_measure)m, 100, 10) >= 0);
    }
    CHECK(simrep_measure_get_info(SIMREP_MEASURE_COUNT) == NULL);
    CHECK(simrep_measure_get_info((simrep_measure)-1) == NULL);
    CHECK(simrep_measure_from_id("nope") == -1 && simrep_measure_from_id(NULL) == -1);
    simrep_measure ids[SIMREP_MEASURE_COUNT];
    const int nd = simrep_default_measures(ids, SIMREP_MEASURE_COUNT);
    CHECK(nd >= 1 && nd <= SIMREP_MEASURE_COUNT);
    for (int i = 0; i < nd; i++)
        CHECK(simrep_measure_get_info(ids[i])->family != SIMREP_FAMILY_MAPS);
    CHECK(simrep_default_measures(NULL, 0) == nd);
    for (int b = 0; b < SIMREP_OUT_COUNT; b++)
        CHECK(simrep_output_key(1u << b) != NULL);
    CHECK(simrep_output_key(1u << SIMREP_OUT_COUNT) == NULL && simrep_output_key(3) == NULL);
    for (int b = 0; b < SIMREP_INV_COUNT; b++)
        CHECK(simrep_invariance_name(1u << b) != NULL);
    CHECK(simrep_invariance_name(1u << SIMREP_INV_COUNT) == NULL);
    for (int f = 0; f < SIMREP_FAMILY_COUNT; f++)
        CHECK(simrep_family_id((simrep_family)f) && simrep_family_name((simrep_family)f));
    CHECK(simrep_family_id(SIMREP_FAMILY_COUNT) == NULL);
    CHECK(simrep_warning_text(SIMREP_WARN_FEW_SAMPLES) && simrep_warning_text(SIMREP_WARN_DEAD_Y));
    CHECK(simrep_warning_text(SIMREP_WARN_ROUNDING_Y) && simrep_warning_text(SIMREP_WARN_RIDGE_Y));
    CHECK(simrep_warning_text(SIMREP_WARN_FEW_SAMPLES_RANK_Y) &&
          strstr(simrep_warning_text(SIMREP_WARN_FEW_SAMPLES_RANK), "n - 1") &&
          !strstr(simrep_warning_text(SIMREP_WARN_FEW_SAMPLES_RANK), "biased toward 1"));
    CHECK(simrep_warning_text(262144) == NULL);
    /* Per-side flags to one input's side-less ones (matrix's per-input warnings). */
    const unsigned w = SIMREP_WARN_FEW_SAMPLES_X | SIMREP_WARN_DEAD_Y | SIMREP_WARN_ROUNDING_Y |
                       SIMREP_WARN_RIDGE_X | SIMREP_WARN_FEW_SAMPLES_RANK_Y | SIMREP_WARN_LAYOUT;
    CHECK(simrep_warnings_of_side(w, 0) == (SIMREP_WARN_FEW_SAMPLES | SIMREP_WARN_RIDGE));
    CHECK(simrep_warnings_of_side(w, 1) ==
          (SIMREP_WARN_DEAD_FEATURES | SIMREP_WARN_ROUNDING | SIMREP_WARN_FEW_SAMPLES_RANK));
    CHECK(simrep_warnings_of_side(w, 2) == 0 && simrep_warnings_of_side(w, -1) == 0);
    CHECK(simrep_warnings_of_side(SIMREP_WARN_DEAD_FEATURES | SIMREP_WARN_LAYOUT, 0) == 0);
}

static void test_options(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    simrep_options o, d;
    simrep_options_init(&d);
    for (int id = 0; id < SIMREP_OPTION_COUNT; id++) {
        const simrep_option_info *in = simrep_option_get_info((simrep_option_id)id);
        CHECK(in && in->name && in->help && in->valid && in->metavar);
        if (!in)
            continue;
        CHECK(simrep_option_from_name(in->name) == id);
        char flag[80];
        snprintf(flag, sizeof flag, "--%s", in->name);
        for (char *c = flag; *c; c++)
            *c = *c == '_' ? '-' : *c;
        CHECK(simrep_option_from_name(flag) == id);
        if (in->excludes)
            CHECK(simrep_option_from_name(in->excludes) >= 0);
        o = d;
        char buf[64];
        if (in->kind == SIMREP_OPTION_CHOICE) {
            for (int k = 0; k <= (int)in->max; k++) {
                simrep_option_choice_name((simrep_option_id)id, k, buf, sizeof buf);
                CHECK_STATUS(ctx, simrep_options_set(ctx, &o, in->name, buf), SIMREP_OK);
                CHECK(simrep_options_get(&o, (simrep_option_id)id) == k);
            }
            CHECK_STATUS(ctx, simrep_options_set(ctx, &o, flag, "no-such-choice"), SIMREP_E_INVALID);
            CHECK(strstr(simrep_ctx_message(ctx), flag) == simrep_ctx_message(ctx));
            CHECK(strstr(simrep_ctx_message(ctx), in->valid) != NULL);
            continue;
        }
        /* Each bound: accepted when closed, refused when open; a step past it refused. */
        const double lo = in->min, hi = in->max, step = 1e-3;
        snprintf(buf, sizeof buf, "%.17g", lo);
        CHECK_STATUS(ctx, simrep_options_set(ctx, &o, in->name, buf), in->min_open ? SIMREP_E_INVALID : SIMREP_OK);
        if (!in->min_open)
            CHECK(simrep_options_get(&o, (simrep_option_id)id) == lo);
        snprintf(buf, sizeof buf, "%.17g", lo - step);
        CHECK_STATUS(ctx, simrep_options_set(ctx, &o, in->name, buf), SIMREP_E_INVALID);
        CHECK(strstr(simrep_ctx_message(ctx), in->valid) != NULL);
        if (isfinite(hi)) {
            snprintf(buf, sizeof buf, "%.17g", hi * (1 + step) + step);
            CHECK_STATUS(ctx, simrep_options_set(ctx, &o, in->name, buf), SIMREP_E_INVALID);
        }
        const double before = simrep_options_get(&o, (simrep_option_id)id);
        CHECK_STATUS(ctx, simrep_options_set(ctx, &o, in->name, "nan"), SIMREP_E_INVALID);
        CHECK_STATUS(ctx, simrep_options_set(ctx, &o, in->name, "inf"), SIMREP_E_INVALID);
        CHECK_STATUS(ctx, simrep_options_set(ctx, &o, in->name, ""), SIMREP_E_INVALID);
        CHECK_STATUS(ctx, simrep_options_set(ctx, &o, in->name, "1x"), SIMREP_E_INVALID);
        CHECK(simrep_options_get(&o, (simrep_option_id)id) == before); /* unchanged on error */
        if (in->kind == SIMREP_OPTION_INTEGER)
            CHECK_STATUS(ctx, simrep_options_set(ctx, &o, in->name, "2.5"), SIMREP_E_INVALID);
    }
    CHECK(simrep_option_get_info(SIMREP_OPTION_COUNT) == NULL);
    CHECK(simrep_option_from_name("nope") == -1 && simrep_option_from_name(NULL) == -1);
    CHECK_STATUS(ctx, simrep_options_set(ctx, &o, "nope", "1"), SIMREP_E_INVALID);
    o = d;
    CHECK_STATUS(ctx, simrep_options_set(ctx, &o, "--svcca-rule", "singular_values"), SIMREP_OK);
    CHECK(o.svcca_rule == SIMREP_SVCCA_SINGULAR_VALUES);
    CHECK_STATUS(ctx, simrep_options_set(ctx, &o, "svcca-keep", "0.5"), SIMREP_OK);
    CHECK(o.svcca_keep == 0.5);
    char name[16];
    CHECK(strcmp(simrep_option_choice_name(SIMREP_OPT_PWCCA_VARIANT, 1, name, sizeof name), "ding") == 0);
    CHECK(strcmp(simrep_option_choice_name(SIMREP_OPT_EPSILON, 0, name, sizeof name), "") == 0);
    CHECK(simrep_struct_size("simrep_measure_info") == sizeof(simrep_measure_info));
    CHECK(simrep_struct_size("simrep_option_info") == sizeof(simrep_option_info));
    simrep_ctx_free(ctx);
}

/* "all" (issue 10, item 11): the measures linear in n, the rows family's
 * O(n^2) ones with SIMREP_ALL_QUADRATIC, conv maps with SIMREP_ALL_MAPS. */
static void test_all_measures(void)
{
    simrep_measure ids[SIMREP_MEASURE_COUNT];
    int in_linear[SIMREP_MEASURE_COUNT] = {0}, in_kernel[SIMREP_MEASURE_COUNT] = {0};
    const int nl = simrep_all_measures(ids, SIMREP_MEASURE_COUNT, 0);
    CHECK(simrep_all_measures(NULL, 0, 0) == nl);
    for (int k = 0; k < nl; k++)
        in_linear[ids[k]] = 1;
    const int nk = simrep_all_measures(ids, SIMREP_MEASURE_COUNT, SIMREP_ALL_QUADRATIC);
    for (int k = 0; k < nk; k++)
        in_kernel[ids[k]] = 1;
    int rows = 0, maps = 0;
    for (int m = 0; m < SIMREP_MEASURE_COUNT; m++) {
        const simrep_measure_info *in = simrep_measure_get_info((simrep_measure)m);
        CHECK(in->time_in_n == (in->family == SIMREP_FAMILY_ROWS ? 2 : 1));
        CHECK(in_linear[m] == (in->family != SIMREP_FAMILY_MAPS && in->family != SIMREP_FAMILY_ROWS));
        CHECK(in_kernel[m] == (in->family != SIMREP_FAMILY_MAPS));
        rows += in->family == SIMREP_FAMILY_ROWS;
        maps += in->family == SIMREP_FAMILY_MAPS;
    }
    CHECK(rows >= 4 && !in_linear[SIMREP_CKA_RBF] && in_linear[SIMREP_CKA]);
    CHECK(nk == nl + rows);
    CHECK(simrep_all_measures(NULL, 0, SIMREP_ALL_QUADRATIC | SIMREP_ALL_MAPS) == nk + maps);
    CHECK(simrep_all_measures(ids, 2, 0) == nl); /* the count whatever cap */
}

void suite_registry(void)
{
    test_measure_rows();
    test_options();
    test_all_measures();
}
