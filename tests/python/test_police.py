"""POLICE from Python against a numpy reimplementation of the constrained
forward (design note 5.2), plus verification, freezing and helpers."""
import numpy as np
import pytest

import sslkit


def police_forward(model, spec, x, V, constrain_output=False):
    """numpy constrained forward in double for 'linear:K,act,...' MLP specs."""
    p = {k: np.asarray(v, dtype=np.float64) for k, v in model.state_dict().items()}
    items = spec.split(",")
    lin = [i for i, t in enumerate(items) if t.startswith("linear")]
    X = np.concatenate([x, V]).astype(np.float64)
    n, C = len(x), len(V)
    for i, t in enumerate(items):
        if t.startswith("linear"):
            X = X @ p[f"{i}.weight"].T + p[f"{i}.bias"]
            if i == lin[-1] and not constrain_output:
                continue
            P = X[n:]
            npos = (P > 0).sum(0)
            mixed = (npos > 0) & (npos < C)
            s = np.where(2 * npos > C, 1.0, -1.0)  # ties -> -1
            delta = s * np.minimum(0.0, (s * P).min(0))
            X = X - np.where(mixed, delta, 0.0)
        elif t == "relu":
            X = np.maximum(X, 0)
        elif t.startswith("leaky_relu"):
            a = float(t.split(":")[1])
            X = np.where(X > 0, X, a * X)
        elif t == "abs":
            X = np.abs(X)
    return X[:n]


SPECS = ["linear:16,leaky_relu:0.01,linear:16,leaky_relu:0.01,linear:16,leaky_relu:0.01,linear:1",
         "linear:24,relu,linear:24,abs,linear:3"]


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("seed", [1, 2])
def test_forward_matches_numpy(spec, seed):
    rng = np.random.default_rng(seed)
    m = sslkit.Model.from_spec(spec, (2,), seed=seed)
    V = sslkit.police_box([-0.5, -0.4], [0.5, 0.6])
    x = rng.uniform(-1.5, 1.5, size=(40, 2)).astype(np.float32)
    plain = m.forward(x)
    m.constrain(V)
    y = m.forward(x)
    ref = police_forward(m, spec, x, V)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    assert np.abs(plain - ref).max() > 1e-3  # the constraint changed the function
    assert m.forward(x, train=True).shape == y.shape
    assert m.constraint.info()["shifted"] > 0
    # constraining the output layer too
    m.constrain(V, constrain_output=True)
    np.testing.assert_allclose(m.forward(x), police_forward(m, spec, x, V, True), rtol=1e-5, atol=1e-5)


def test_numpy_reference_unit_cases():
    """The design note's unit cases through the numpy reference itself."""
    m = sslkit.Model.from_spec("linear:3", (4,), seed=0)
    W = np.array([[-0.3, 0.5, 0.2, 0.1], [0.4, -0.2, -0.5, -0.1], [0.0, -0.1, -0.2, -0.3]], np.float32)
    m.set_param("0.weight", W)
    m.set_param("0.bias", np.zeros(3, np.float32))
    V = np.eye(4, dtype=np.float32)
    want = np.array([[0, 0.8, 0.5, 0.4], [0, -0.6, -0.9, -0.5], [0, -0.1, -0.2, -0.3]]).T
    np.testing.assert_allclose(police_forward(m, "linear:3", V, V, True), want, atol=1e-7)
    m.constrain(V, constrain_output=True)
    np.testing.assert_allclose(m.forward(V), want, atol=2e-7)


def test_verify_and_freeze(tmp_path):
    spec = SPECS[0]
    m = sslkit.Model.from_spec(spec, (2,), seed=5)
    V = sslkit.police_box([-0.5, -0.5], [0.5, 0.5])
    before = sslkit.police_verify(m, V, samples=300)
    assert before["affine_max_rel"] > 1e-4 and before["regions_inside"] > 10
    m.constrain(V)
    r = sslkit.police_verify(m, V, samples=300)
    assert r["affine_max_rel"] < 1e-9 and r["regions_inside"] == 1 and r["regions_around"] > 10
    assert r["rank"] == 2 and r["slice_checked"]
    x = np.random.default_rng(0).uniform(-2, 2, size=(50, 2)).astype(np.float32)
    y0 = m.forward(x)
    m.freeze_constraint()
    assert m.constraint is None
    np.testing.assert_allclose(m.forward(x), y0, rtol=1e-5, atol=1e-5)
    r2 = sslkit.police_verify(m, V, samples=300)
    assert r2["affine_max_rel"] < 1e-9 and r2["regions_inside"] == 1
    path = tmp_path / "frozen.sslk"
    m.save(path)
    np.testing.assert_array_equal(sslkit.Model.load(path).forward(x), m.forward(x))
    # SplineCam of the constrained function on a wider slice: many regions
    m2 = sslkit.Model.from_spec(spec, (2,), seed=5)
    m2.constrain(V)
    sl = sslkit.Slice.from_box([0, 0], [[1, 0], [0, 1]], [-1, 1, -1, 1])
    assert len(sslkit.police_splinecam(m2, sl)) > 20


def test_helpers_and_errors():
    np.testing.assert_array_equal(sslkit.police_box([0, 1], [2, 3]), [[0, 1], [2, 1], [0, 3], [2, 3]])
    np.testing.assert_array_equal(sslkit.police_simplex([1, 2], 0.5), [[1, 2], [1.5, 2], [1, 2.5]])
    P = sslkit.police_polygon([0, 0, 1], [[1, 0, 0], [0, 1, 0]], [[0, 0], [1, 0], [0, 2]])
    np.testing.assert_allclose(P, [[0, 0, 1], [1, 0, 1], [0, 2, 1]])
    with pytest.raises(sslkit.Error) as e:
        sslkit.police_box(np.zeros(17), np.ones(17))
    assert e.value.status_name == "SSLK_E_UNSUPPORTED"
    m = sslkit.Model.from_spec("linear:4,relu,linear:1", (2,))
    with pytest.raises(sslkit.Error):
        m.constrain([[0, 0], [0, 0], [0, 0]])  # coincident vertices
    with pytest.raises(sslkit.Error):
        m.constrain([[0, 0, 0], [1, 0, 0]])  # wrong dimension
    with pytest.raises(sslkit.Error):
        m.constrain([[0, np.nan], [1, 0]])
    with pytest.raises(RuntimeError):
        m.freeze_constraint()
    m.constrain([[0, 0], [1, 0], [0, 1]])
    m.unconstrain()
    assert m.forward(np.zeros((1, 2), np.float32)).shape == (1, 1)
