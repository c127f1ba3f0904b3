/* Printing an accuracy report as a table or JSON.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "metric_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

sslk_status cli_report_compute(cli_report *r, const int32_t *pred, const int32_t *labels, size_t n, size_t C,
                               const int32_t *groups, size_t G, size_t k) {
    memset(r, 0, sizeof *r);
    r->C = C;
    r->G = G;
    if (k == SIZE_MAX) { /* default: up to 10 of the classes present */
        size_t present = 0;
        char *seen = calloc(C ? C : 1, 1);
        for (size_t i = 0; seen && i < n; i++)
            if (labels[i] >= 0 && (size_t)labels[i] < C && !seen[labels[i]]) {
                seen[labels[i]] = 1;
                present++;
            }
        free(seen);
        k = present < 10 ? present : 10;
    }
    r->k = k;
    r->class_acc = calloc(C + G + 1, sizeof(double));
    r->class_count = calloc(C + G + 1, sizeof(int64_t));
    r->worst = calloc(2 * k + 1, sizeof(int32_t));
    if (!r->class_acc || !r->class_count || !r->worst) {
        cli_report_free(r);
        return SSLK_E_NOMEM;
    }
    r->group_acc = r->class_acc + C;
    r->group_count = r->class_count + C;
    r->best = r->worst + k;
    r->s.struct_size = sizeof r->s;
    sslk_status s = sslk_accuracy_report(NULL, pred, labels, n, C, groups, G, k, NULL, NULL, &r->s, r->class_acc,
                                         r->class_count, r->worst, r->best, r->group_acc, r->group_count);
    if (s != SSLK_OK) cli_report_free(r);
    return s;
}

void cli_report_free(cli_report *r) {
    free(r->class_acc);
    free(r->class_count);
    free(r->worst);
    memset(r, 0, sizeof *r);
}

static void print_set(const int32_t *ids, size_t k) {
    for (size_t i = 0; i < k; i++) printf("%s%d", i ? ", " : "", ids[i]);
}

void cli_report_print(const cli_report *r, const char *const *names) {
    const sslk_accuracy_summary *s = &r->s;
    printf("samples %zu, classes %zu (%zu absent)\n", s->num_samples, s->num_classes, s->num_absent);
    printf("accuracy             %.4f\n", s->accuracy);
    printf("balanced accuracy    %.4f  (mean over present classes)\n", s->balanced_accuracy);
    if (r->k) {
        printf("worst-%zu accuracy     %.4f  (classes ", r->k, s->worst_k);
        print_set(r->worst, r->k);
        printf("; pooled over their samples %.4f)\n", s->worst_k_pooled);
        printf("best-%zu accuracy      %.4f  (classes ", r->k, s->best_k);
        print_set(r->best, r->k);
        printf(")\n");
    }
    printf("\n%5s  %-12s %7s  %8s\n", "class", "name", "count", "accuracy");
    for (size_t c = 0; c < r->C; c++) {
        printf("%5zu  %-12s %7lld  ", c, names ? names[c] : "", (long long)r->class_count[c]);
        if (r->class_count[c]) printf("%8.4f\n", r->class_acc[c]);
        else printf("%8s\n", "absent");
    }
    if (r->G) {
        printf("\n%5s  %7s  %8s\n", "group", "count", "accuracy");
        for (size_t g = 0; g < r->G; g++) {
            printf("%5zu  %7lld  ", g, (long long)r->group_count[g]);
            if (r->group_count[g]) printf("%8.4f\n", r->group_acc[g]);
            else printf("%8s\n", "absent");
        }
        printf("worst group accuracy %.4f\n", s->worst_group);
        printf("minority group %d, majority group %d: gap (majority - minority) %.4f\n", (int)s->minority_group,
               (int)s->majority_group, s->minority_majority_gap);
    }
}

static void json_ids(FILE *f, const int32_t *ids, size_t k) {
    fputc('[', f);
    for (size_t i = 0; i < k; i++) fprintf(f, "%s%d", i ? ", " : "", ids[i]);
    fputc(']', f);
}

void cli_report_json(const cli_report *r, FILE *f) {
    const sslk_accuracy_summary *s = &r->s;
    fprintf(f, "{\"samples\": %zu, \"classes\": %zu, \"k\": %zu, \"accuracy\": ", s->num_samples, s->num_classes,
            r->k);
    cli_json_num(f, s->accuracy);
    fprintf(f, ", \"balanced_accuracy\": ");
    cli_json_num(f, s->balanced_accuracy);
    fprintf(f, ", \"worst_k\": ");
    cli_json_num(f, s->worst_k);
    fprintf(f, ", \"best_k\": ");
    cli_json_num(f, s->best_k);
    fprintf(f, ", \"worst_k_pooled\": ");
    cli_json_num(f, s->worst_k_pooled);
    fprintf(f, ", \"worst_classes\": ");
    json_ids(f, r->worst, r->k);
    fprintf(f, ", \"best_classes\": ");
    json_ids(f, r->best, r->k);
    fprintf(f, ", \"absent_classes\": [");
    for (size_t c = 0, m = 0; c < r->C; c++)
        if (!r->class_count[c]) fprintf(f, "%s%zu", m++ ? ", " : "", c);
    fprintf(f, "], \"class_accuracy\": [");
    for (size_t c = 0; c < r->C; c++) {
        if (c) fputs(", ", f);
        cli_json_num(f, r->class_acc[c]);
    }
    fprintf(f, "], \"class_count\": [");
    for (size_t c = 0; c < r->C; c++) fprintf(f, "%s%lld", c ? ", " : "", (long long)r->class_count[c]);
    fputc(']', f);
    if (r->G) {
        fprintf(f, ", \"group_accuracy\": [");
        for (size_t g = 0; g < r->G; g++) {
            if (g) fputs(", ", f);
            cli_json_num(f, r->group_acc[g]);
        }
        fprintf(f, "], \"group_count\": [");
        for (size_t g = 0; g < r->G; g++) fprintf(f, "%s%lld", g ? ", " : "", (long long)r->group_count[g]);
        fprintf(f, "], \"worst_group\": ");
        cli_json_num(f, s->worst_group);
        fprintf(f, ", \"minority_group\": %d, \"majority_group\": %d, \"minority_majority_gap\": ",
                (int)s->minority_group, (int)s->majority_group);
        cli_json_num(f, s->minority_majority_gap);
    }
    fprintf(f, "}\n");
}
