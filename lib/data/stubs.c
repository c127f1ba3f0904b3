/* Temporary stubs while the data layer is written (removed file by file).
 * SPDX-License-Identifier: BSD-3-Clause */
#include "core/internal.h"
#include "sslkit/data.h"

sslk_status sslk_augment_create(sslk_ctx *ctx, size_t nviews, sslk_augment **out) {
    (void)ctx;
    (void)nviews;
    (void)out;
    return ssli_err(SSLK_E_UNSUPPORTED, "sslk_augment_create: not implemented yet");
}

void sslk_augment_destroy(sslk_augment *aug) {
    (void)aug;
}

sslk_status sslk_augment_num_views(const sslk_augment *aug, size_t *nviews) {
    (void)aug;
    (void)nviews;
    return ssli_err(SSLK_E_UNSUPPORTED, "sslk_augment_num_views: not implemented yet");
}

sslk_status sslk_augment_set_f64(sslk_augment *aug, int view, int key, double value) {
    (void)aug;
    (void)view;
    (void)key;
    (void)value;
    return ssli_err(SSLK_E_UNSUPPORTED, "sslk_augment_set_f64: not implemented yet");
}

sslk_status sslk_augment_set_i64(sslk_augment *aug, int view, int key, int64_t value) {
    (void)aug;
    (void)view;
    (void)key;
    (void)value;
    return ssli_err(SSLK_E_UNSUPPORTED, "sslk_augment_set_i64: not implemented yet");
}

sslk_status sslk_augment_get_f64(const sslk_augment *aug, int view, int key, double *value) {
    (void)aug;
    (void)view;
    (void)key;
    (void)value;
    return ssli_err(SSLK_E_UNSUPPORTED, "sslk_augment_get_f64: not implemented yet");
}

sslk_status sslk_augment_preset(sslk_augment *aug, int view, sslk_aug_preset preset) {
    (void)aug;
    (void)view;
    (void)preset;
    return ssli_err(SSLK_E_UNSUPPORTED, "sslk_augment_preset: not implemented yet");
}

sslk_status sslk_augment_out_shape(const sslk_augment *aug, size_t view, size_t in_c, size_t *c, size_t *h, size_t *w) {
    (void)aug;
    (void)view;
    (void)in_c;
    (void)c;
    (void)h;
    (void)w;
    return ssli_err(SSLK_E_UNSUPPORTED, "sslk_augment_out_shape: not implemented yet");
}

sslk_status sslk_augment_apply(const sslk_augment *aug, size_t view, const uint8_t *img, size_t h, size_t w, size_t c, uint64_t seed, uint64_t epoch, uint64_t index, float *out) {
    (void)aug;
    (void)view;
    (void)img;
    (void)h;
    (void)w;
    (void)c;
    (void)seed;
    (void)epoch;
    (void)index;
    (void)out;
    return ssli_err(SSLK_E_UNSUPPORTED, "sslk_augment_apply: not implemented yet");
}

sslk_status sslk_loader_create(sslk_ctx *ctx, sslk_dataset *ds, const sslk_augment *aug, size_t batch, sslk_loader **out) {
    (void)ctx;
    (void)ds;
    (void)aug;
    (void)batch;
    (void)out;
    return ssli_err(SSLK_E_UNSUPPORTED, "sslk_loader_create: not implemented yet");
}

void sslk_loader_destroy(sslk_loader *ld) {
    (void)ld;
}

sslk_status sslk_loader_set_i64(sslk_loader *ld, int key, int64_t value) {
    (void)ld;
    (void)key;
    (void)value;
    return ssli_err(SSLK_E_UNSUPPORTED, "sslk_loader_set_i64: not implemented yet");
}

sslk_status sslk_loader_get_i64(const sslk_loader *ld, int key, int64_t *value) {
    (void)ld;
    (void)key;
    (void)value;
    return ssli_err(SSLK_E_UNSUPPORTED, "sslk_loader_get_i64: not implemented yet");
}

sslk_status sslk_loader_num_views(const sslk_loader *ld, size_t *nviews) {
    (void)ld;
    (void)nviews;
    return ssli_err(SSLK_E_UNSUPPORTED, "sslk_loader_num_views: not implemented yet");
}

sslk_status sslk_loader_view_shape(const sslk_loader *ld, size_t view, size_t *c, size_t *h, size_t *w) {
    (void)ld;
    (void)view;
    (void)c;
    (void)h;
    (void)w;
    return ssli_err(SSLK_E_UNSUPPORTED, "sslk_loader_view_shape: not implemented yet");
}

sslk_status sslk_loader_num_batches(const sslk_loader *ld, size_t *nbatches) {
    (void)ld;
    (void)nbatches;
    return ssli_err(SSLK_E_UNSUPPORTED, "sslk_loader_num_batches: not implemented yet");
}

sslk_status sslk_loader_begin_epoch(sslk_loader *ld, uint64_t epoch) {
    (void)ld;
    (void)epoch;
    return ssli_err(SSLK_E_UNSUPPORTED, "sslk_loader_begin_epoch: not implemented yet");
}

sslk_status sslk_loader_next(sslk_loader *ld, float *const *views, int32_t *labels, int64_t *indices, size_t *rows) {
    (void)ld;
    (void)views;
    (void)labels;
    (void)indices;
    (void)rows;
    return ssli_err(SSLK_E_UNSUPPORTED, "sslk_loader_next: not implemented yet");
}

sslk_status sslk_loader_stats_get(const sslk_loader *ld, sslk_loader_stats *stats) {
    (void)ld;
    (void)stats;
    return ssli_err(SSLK_E_UNSUPPORTED, "sslk_loader_stats_get: not implemented yet");
}
