"""libsslkit from Python (ctypes + numpy).

Self-supervised learning losses with exact gradients, label-free and subgroup
metrics, models, data pipelines and exact geometry (SplineCam, POLICE).
Arrays go in and come out as numpy arrays; failures raise sslkit.Error.
"""
from ._lib import ClosedError, Context, Error, choices, default_ctx, set_threads, setting_info, settings, lib as _clib

__version__ = _clib.sslk_version_string().decode()

# Each layer's module is imported here, one line each.
# @metric
from .metrics import (RankMe, accuracy_report, alpha_req, ensemble_curve, ensemble_predict,  # noqa: E402,F401
                      factor_error_ratios, rankme, rankme_covariance, rankme_spectrum)
from .npy import load_npy, save_npy  # noqa: E402,F401
# @loss
from .loss import Loss, NegativeQueue  # noqa: E402,F401
from .conventions import PRESETS as CONVENTIONS  # noqa: E402,F401  (issue 20: Loss(kind, convention=...))
# @nn
from .model import Model, Optimizer, ParamView, warmup_cosine  # noqa: E402,F401
from .model import LoadResult  # noqa: E402,F401  (issue 14: Model.load_safetensors result)
# @data
from .data import Augment, Dataset, Loader  # noqa: E402,F401
# @train
from .train import KNN, LinearProbe, Trainer, knn_eval, linear_probe  # noqa: E402,F401
# @geometry
from .geometry import Slice, Partition, splinecam  # noqa: E402,F401
# police
from .police import (Police, police_box, police_polygon, police_simplex,  # noqa: E402,F401
                     police_splinecam, police_verify)
# theory (issue 18: closed-form SSL, diagnostics, bound report)
from .theory import (ClosedFormSSL, augmentation_variation, closed_form_ssl, closed_form_ssl_moments,  # noqa: E402,F401
                     collapse_std, dirichlet_energy, graph_variation, lidar, ortho_penalty, random_features,
                     vicreg_bound)
# issue 15b: evaluation harness, ImageNet-X annotations
from .harness import embed, eval_transform, imagenet_x_factors, imagenet_x_report, item_paths  # noqa: E402,F401
# spectral (experimental)
from .spectral import (GalerkinEigenfunctions, diffusion_distances, diffusion_map,  # noqa: E402,F401
                       galerkin_eigenfunctions, knn_graph, laplacian_eigenmaps)
# collectives tables (issue 17, experimental)
from .dist import get_dist, set_dist  # noqa: E402,F401  (sslkit.dist: Table, FakeWorld, gathers)
from .dist_mpi import MPITable  # noqa: E402,F401  (issue 17: Context(dist="mpi"))
# dense kernel sets (issue 16a, experimental)
from .linalg import linalg_info  # noqa: E402,F401
