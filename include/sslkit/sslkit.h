/* libsslkit umbrella header: include this one.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_H
#define SSLKIT_H

#include "sslkit/core.h"
#include "sslkit/param.h"
/* @includes (one line per header) */
#include "sslkit/loss.h"
#include "sslkit/data.h"
#include "sslkit/dist.h"
#include "sslkit/dist_mpi.h"
#include "sslkit/eval.h"
#include "sslkit/geometry.h"
/* police */
#include "sslkit/police.h"
#include "sslkit/metrics.h"
#include "sslkit/model.h"
#include "sslkit/npy.h"
#include "sslkit/optim.h"
#include "sslkit/plot.h"
#include "sslkit/train.h"
/* theory (issue 18, experimental tier) */
#include "sslkit/theory.h"
/* spectral (experimental) */
#include "sslkit/spectral.h"

#endif
