"""Loader shards (issue 17): SSLK_LOADER_SHARD_RANK / SHARD_COUNT, reached by
their keys from the settings registry.  Reference: the rows of one unsharded
loader with the same seed (same items, same augmented pixels)."""
import numpy as np

import sslkit
from sslkit._lib import lib


def _key(name):
    return sslkit.settings("loader")[name]["key"]


def _epoch(ds, rank, count, batch=10):
    ld = sslkit.Loader(ds, batch_size=batch, views=2, seed=5, workers=2)
    lib.sslk_loader_set_i64(ld._h, _key("shard_count"), count)
    lib.sslk_loader_set_i64(ld._h, _key("shard_rank"), rank)
    return list(ld), ld.stats


def test_shards_are_rows_of_the_global_batch():
    rng = np.random.default_rng(0)
    ds = sslkit.Dataset.from_array(rng.integers(0, 256, (40, 12, 12, 1), dtype=np.uint8),
                                   np.arange(40, dtype=np.int32) % 4)
    whole, _ = _epoch(ds, 0, 1)
    assert len(whole) == 4
    seen = []
    for r in range(3):
        part, stats = _epoch(ds, r, 3)
        assert len(part) == len(whole)
        for b, (mine, ref) in enumerate(zip(part, whole)):
            lo, hi = 10 * r // 3, 10 * (r + 1) // 3
            for a, e in zip(mine, ref):  # view 0, view 1, labels, indices
                np.testing.assert_array_equal(a, e[lo:hi], err_msg=f"rank {r} batch {b}")
            seen.extend(mine[3].tolist())
        assert stats["images"] == sum(len(m[3]) for m in part)  # this rank's rows only
    assert sorted(seen) == sorted(np.concatenate([w[3] for w in whole]).tolist())
