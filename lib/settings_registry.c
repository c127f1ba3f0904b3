/* The list of every layer's settings table, for introspection.  Each layer
 * adds one extern declaration and one entry (keep the NULL terminator last).
 * SPDX-License-Identifier: BSD-3-Clause */
#include "core/internal.h"

/* extern declarations, one per layer */
/* core */
extern const ssli_setting_table ssli_settings_ctx;
/* @metric-extern */
extern const ssli_setting_table ssli_settings_rankme;
/* @loss-extern */
extern const ssli_setting_table ssli_settings_loss, ssli_settings_vicreg, ssli_settings_vicreg_logdet,
    ssli_settings_vicreg_pairdist, ssli_settings_infonce, ssli_settings_diet, ssli_settings_msn,
    ssli_settings_xent;
/* @nn-extern */
extern const ssli_setting_table ssli_settings_model, ssli_settings_sgd, ssli_settings_lars,
    ssli_settings_adamw, ssli_settings_schedule;
/* @data-extern */
extern const ssli_setting_table ssli_settings_augment, ssli_settings_loader, ssli_settings_dataset;
/* eval */
extern const ssli_setting_table ssli_settings_knn;
extern const ssli_setting_table ssli_settings_probe;
/* @train-extern */
extern const ssli_setting_table ssli_settings_train;
/* @geometry-extern */
extern const ssli_setting_table ssli_settings_splinecam;
/* police */
extern const ssli_setting_table ssli_settings_police;

const ssli_setting_table *const ssli_setting_tables[] = {
    /* entries, one per layer */
    /* core */
    &ssli_settings_ctx,
    /* @metric-entry */
    &ssli_settings_rankme,
    /* @loss-entry */
    &ssli_settings_loss, &ssli_settings_vicreg, &ssli_settings_vicreg_logdet, &ssli_settings_vicreg_pairdist,
    &ssli_settings_infonce, &ssli_settings_diet, &ssli_settings_msn, &ssli_settings_xent,
    /* @nn-entry */
    &ssli_settings_model, &ssli_settings_sgd, &ssli_settings_lars, &ssli_settings_adamw,
    &ssli_settings_schedule,
    /* @data-entry */
    &ssli_settings_augment,
    &ssli_settings_loader,
    &ssli_settings_dataset,
    /* eval */
    &ssli_settings_knn,
    &ssli_settings_probe,
    /* @train-entry */
    &ssli_settings_train,
    /* @geometry-entry */
    &ssli_settings_splinecam,
    /* police */
    &ssli_settings_police,
    NULL,
};
