"""Named convention presets: the settings that make a libsslkit loss compute what
another code base computes (docs/coming-from.md lists each call and its match).

    >>> sslkit.Loss("vicreg", convention="solo-learn")      # variance terms summed
    >>> sslkit.Loss("infonce", convention="lightly")        # NTXentLoss(temperature=0.5)

Keyword settings given with a convention override the preset's.  The presets only
name settings that differ from libsslkit's defaults; `PRESETS[(kind, name)]` shows them.
"""
import numpy as np

PRESETS = {
    # VICReg: facebookresearch/vicreg and lightly reduce the two views' variance terms
    # by their mean (= the default); solo-learn and the paper's pseudocode by their sum
    ("vicreg", "official"): {},
    ("vicreg", "lightly"): {},
    ("vicreg", "solo-learn"): {"var_branch_reduction": "sum"},
    ("vicreg", "paper"): {"var_branch_reduction": "sum"},
    # NT-Xent: lightly NTXentLoss() temperature 0.5; solo-learn's SimCLR configs 0.2;
    # google-research/simclr sums the two views' mean losses (temperature 0.1)
    ("infonce", "lightly"): {"temperature": 0.5},
    ("infonce", "solo-learn"): {"temperature": 0.2},
    ("infonce", "official"): {"temperature": 0.1, "view_reduction": "sum"},
    # MSN: the official code (use_sinkhorn) and lightly's MSNLoss both run 3 Sinkhorn
    # iterations, temperature 0.1, target sharpening 0.25, me-max weight 1 = the defaults;
    # lightly's PMSNLoss: power-law prior (exponent 0.25), F.kl_div(log pbar, prior) = KL(prior || pbar)
    ("msn", "official"): {},
    ("msn", "lightly"): {},
    ("msn", "lightly-pmsn"): {"prior": "power_law", "tau": 0.25, "kl_direction": "reverse"},
}


def preset(kind, name):
    """The settings dict of convention `name` for loss `kind` (KeyError naming the
    known conventions of that kind otherwise)."""
    try:
        return dict(PRESETS[(kind, name)])
    except KeyError:
        known = sorted(c for k, c in PRESETS if k == kind)
        raise KeyError(f"no convention {name!r} for loss {kind!r}; known: {known}") from None


def official_vicreg_cov_coeff(cov_coeff, n, batch_size):
    """cov_coeff that reproduces facebookresearch/vicreg on a batch of n rows when its
    covariance divides by the configured batch_size - 1 (a short last batch): the
    covariance term scales by ((n - 1) / (batch_size - 1))^2, value and gradient alike."""
    if n < 2 or batch_size < 2:
        raise ValueError(f"n = {n} and batch_size = {batch_size} must both be >= 2")
    return float(cov_coeff) * ((n - 1) / (batch_size - 1)) ** 2


def over_positions(loss, za, zb):
    """VICReg-type loss on (batch, ..., dim) inputs as lightly computes it: the loss of
    each middle position (its own batch statistics) averaged over the positions.
    Returns (value, ga, gb) with gradients shaped as the inputs; `loss.terms` after the
    call are the averaged terms."""
    za = np.asarray(za, np.float32)
    zb = np.asarray(zb, np.float32)
    if za.shape != zb.shape or za.ndim < 2:
        raise ValueError(f"inputs must share a (batch, ..., dim) shape, got {za.shape} and {zb.shape}")
    b, d = za.shape[0], za.shape[-1]
    a3 = za.reshape(b, -1, d)
    b3 = zb.reshape(b, -1, d)
    npos = a3.shape[1]
    ga = np.empty_like(a3)
    gb = np.empty_like(b3)
    total, terms = 0.0, {}
    for p in range(npos):
        v, g1, g2 = loss.compute(np.ascontiguousarray(a3[:, p]), np.ascontiguousarray(b3[:, p]))
        total += v
        ga[:, p] = g1 / npos
        gb[:, p] = g2 / npos
        for k, t in loss.terms.items():
            terms[k] = terms.get(k, 0.0) + t / npos
    loss._position_terms = terms
    return total / npos, ga.reshape(za.shape), gb.reshape(zb.shape)
