"""simrep.torch.compare_models (one pass through two models into one
K-input Moments) equals the pairwise simrep.compare of the captured layers;
padded transformer batches (torch.nn.TransformerEncoder with variable-length
inputs): capture(mask=), compare(sequence=, mask=) and compare_models with a
mask equal numpy on the valid tokens in every mode.

Tolerance 1e-9: the moments are the same sums formed batch by batch instead
of at once (round-off ~1e-14 on these sizes), while a misread row or token
moves these measures by > 1e-3.  Transformer layers end in a LayerNorm,
whose output lies in a hyperplane (its features sum to a constant): the
covariance has an eigenvalue of float32 round-off size (2e-15 of the
largest here), a direction of pure noise.  Its canonical correlation is
~1e-10, but pwcca gives it a full projection weight, so pwcca moves with
round-off: numpy's own pwcca moves by 0.0019 when x is perturbed by 1e-15
relative (at epsilon 1e-6; by 0.0016 at 1e-4).  The transformer tests leave
pwcca out and use epsilon=1e-6, which bounds how far cca amplifies that
direction (agreement then 1e-11; 7e-8 at the default 1e-10): the data are
degenerate, not the masks (docs/pytorch.md tells users).
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import reference_numpy as ref  # noqa: E402  (tests/python, on sys.path via conftest)
import simrep  # noqa: E402
import simrep.torch as st  # noqa: E402

torch.set_num_threads(1)
TOL = 1e-9
EPS_LN = 1e-6  # the CCA ridge for LayerNorm outputs (module doc)
LN_MEASURES = ["cca", "svcca", "cka", "cka_debiased", "procrustes"]  # no pwcca on LayerNorm outputs
MEASURES = ["cca", "svcca", "pwcca", "cka", "cka_debiased", "procrustes"]


class ConvNet(torch.nn.Module):
    def __init__(self, seed, width=6):
        super().__init__()
        torch.manual_seed(seed)
        self.conv = torch.nn.Conv2d(1, width, 3, padding=1)
        self.relu = torch.nn.ReLU()
        self.fc1 = torch.nn.Linear(width * 16, 12)
        self.fc2 = torch.nn.Linear(12, 5)

    def forward(self, x):
        h = torch.nn.functional.max_pool2d(self.relu(self.conv(x)), 2)  # N, C, 4, 4
        return self.fc2(torch.tanh(self.fc1(h.flatten(1))))


def _images(n=160, batch=40):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, 1, 8, 8, generator=g)
    return [(x[i:i + batch], torch.zeros(len(x[i:i + batch]))) for i in range(0, n, batch)]


def _flat(acts, name):
    a = acts[name].astype(np.float64)
    return a.mean(axis=(2, 3)) if a.ndim == 4 else a  # conv_mode="pool"


def test_compare_models_equals_pairwise():
    loader = _images()
    net_a, net_b = ConvNet(0), ConvNet(1, width=4)
    la, lb = ["conv", "fc1", "fc2"], ["fc1", "conv"]
    res = st.compare_models(net_a, net_b, loader, la, lb, MEASURES, conv_mode="pool", warn=False)
    acts_a, acts_b = st.capture(net_a, la, loader), st.capture(net_b, lb, loader)
    assert res["n"] == 160 and res["names"] == ["a:conv", "a:fc1", "a:fc2", "b:fc1", "b:conv"]
    for i, x in enumerate(la):
        for j, y in enumerate(lb):
            want = simrep.compare(_flat(acts_a, x), _flat(acts_b, y), MEASURES, warn=False)
            for m in MEASURES:
                assert res["measures"][m]["similarity"].shape == (3, 2)
                assert abs(res["measures"][m]["similarity"][i, j] - want[m]["similarity"]) < TOL, (m, x, y)
                assert abs(res["measures"][m]["distance"][i, j] - want[m]["distance"]) < TOL, (m, x, y)
    # the Moments holds every pair, within each model too
    full = res["moments"].matrix(["cka", "pwcca"], names=res["names"])
    want = simrep.compare(_flat(acts_a, "conv"), _flat(acts_a, "fc2"), ["cka", "pwcca"], warn=False)
    for m in ("cka", "pwcca"):
        assert abs(full["measures"][m]["similarity"][0, 2] - want[m]["similarity"]) < TOL
    # a model against itself: shared layers are one input (similarity 1)
    self_res = st.compare_models(net_a, net_a, loader, ["conv", "fc1"], ["fc1", "fc2"], ["cka"],
                                 conv_mode="pool")
    assert len(self_res["moments"].features) == 3
    cka = self_res["measures"]["cka"]["similarity"]
    assert cka[1, 0] == 1.0
    want = simrep.compare(_flat(acts_a, "conv"), _flat(acts_a, "fc2"), ["cka"])["cka"]["similarity"]
    assert abs(cka[0, 1] - want) < TOL
    # modes restored, hooks removed
    assert net_a.training and net_b.training
    assert sum(len(m._forward_hooks) for m in net_a.modules()) == 0


def test_compare_models_errors():
    loader = _images(n=80)
    net_a, net_b = ConvNet(0), ConvNet(1)
    with pytest.raises(simrep.InvalidArgument, match="conv_mode='pool'"):
        st.compare_models(net_a, net_b, loader, ["conv"], ["fc1"])
    with pytest.raises(simrep.InvalidArgument, match="cka_rbf needs the rows"):
        st.compare_models(net_a, net_b, loader, ["fc1"], ["fc1"], ["cka", "cka_rbf"])
    with pytest.raises(simrep.InvalidArgument, match="no module named 'nope'"):
        st.compare_models(net_a, net_b, loader, ["nope"], ["fc1"])
    with pytest.raises(simrep.InvalidArgument, match="gives 40 samples .rows. but a:conv gives 2560"):
        st.compare_models(net_a, net_b, loader, ["conv"], ["fc1"], conv_mode="positions")
    with pytest.raises(simrep.InvalidArgument, match="no batches"):
        st.compare_models(net_a, net_b, [], ["fc1"], ["fc1"])
    assert sum(len(m._forward_hooks) for m in net_a.modules()) == 0


# ------------------------------------------------------------ transformers

def _encoder(seed):
    torch.manual_seed(seed)
    layer = torch.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
    return torch.nn.TransformerEncoder(layer, 2)


def _padded_batches(n=64, batch=16, seed=3):
    """Dict batches {"src": (B, T_b, 16), "src_key_padding_mask": (B, T_b),
    True = padding}, T_b the longest sequence of the batch (2..10 tokens);
    padded steps hold garbage, as a model's input may."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, 11, (n,), generator=g)
    lengths[0] = 10
    out = []
    for i in range(0, n, batch):
        ln = lengths[i:i + batch]
        t = int(ln.max())
        pad = torch.arange(t)[None, :] >= ln[:, None]
        x = torch.randn(len(ln), t, 16, generator=g)
        x[pad] = 50.0
        out.append({"src": x, "src_key_padding_mask": pad})
    return out, lengths.numpy()


def _by_mode(a, valid, mode):
    if mode == "flatten":
        return a[valid]
    t = np.arange(valid.shape[1])
    if mode == "first":
        return a[np.arange(len(a)), np.where(valid, t, valid.shape[1]).min(axis=1)]
    if mode == "last":
        return a[np.arange(len(a)), np.where(valid, t, -1).max(axis=1)]
    return (a * valid[:, :, None]).sum(axis=1) / valid.sum(axis=1)[:, None]


def test_transformer_masks_equal_numpy_on_valid_tokens():
    loader, lengths = _padded_batches()
    enc_a, enc_b = _encoder(0), _encoder(1)
    layers = ["layers.0", "layers.1"]
    tokens = lambda b: ~b["src_key_padding_mask"]  # noqa: E731
    acts_a, mask = st.capture(enc_a, layers, loader, mask=tokens)
    acts_b, _ = st.capture(enc_b, layers, loader, mask=tokens)
    valid = np.arange(10)[None, :] < lengths[:, None]
    assert mask.dtype == bool and (mask == valid).all()
    assert acts_a["layers.0"].shape == (64, 10, 16)
    a0, a1 = acts_a["layers.0"].astype(np.float64), acts_a["layers.1"].astype(np.float64)
    for mode in ("flatten", "first", "last", "mean"):
        x, y = _by_mode(a0, valid, mode), _by_mode(a1, valid, mode)
        got = simrep.compare(a0, a1, LN_MEASURES, sequence=mode, mask=mask, epsilon=EPS_LN, warn=False)
        for m in LN_MEASURES:
            want = ref.compute(m, x, y, epsilon=EPS_LN)["similarity"]
            assert abs(got[m]["similarity"] - want) < TOL, (mode, m, got[m]["similarity"] - want)
        if mode == "flatten":  # lengths and a torch mask say the same
            for other in (lengths, torch.from_numpy(valid.astype(np.int64))):
                again = simrep.compare(a0, a1, ["cka"], sequence=mode, mask=other)
                assert abs(again["cka"]["similarity"] - got["cka"]["similarity"]) < 1e-12
        res = st.compare_models(enc_a, enc_b, loader, layers, layers, ["cka", "cca"], sequence=mode,
                                mask=tokens, epsilon=EPS_LN, warn=False)
        assert res["n"] == (valid.sum() if mode == "flatten" else 64)
        for i, la in enumerate(layers):
            for j, lb in enumerate(layers):
                x = _by_mode(acts_a[la].astype(np.float64), valid, mode)
                y = _by_mode(acts_b[lb].astype(np.float64), valid, mode)
                for m in ("cka", "cca"):
                    want = ref.compute(m, x, y, epsilon=EPS_LN)["similarity"]
                    assert abs(res["measures"][m]["similarity"][i, j] - want) < TOL, (mode, m, la, lb)


def test_transformer_mask_errors():
    loader, lengths = _padded_batches(n=32)
    enc = _encoder(0)
    with pytest.raises(simrep.InvalidArgument, match="looks like a padding mask"):
        st.capture(enc, ["layers.0"], loader, mask="src_key_padding_mask")
    with pytest.raises(simrep.InvalidArgument, match="sequence='flatten'"):
        st.compare_models(enc, enc, loader, ["layers.0"], ["layers.1"])
    with pytest.raises(simrep.InvalidArgument, match="give sequence="):
        st.compare_models(enc, enc, loader, ["layers.0"], ["layers.1"], mask=lambda b: ~b["src_key_padding_mask"])
    acts, mask = st.capture(enc, ["layers.0"], loader, mask=lambda b: ~b["src_key_padding_mask"])
    a = acts["layers.0"]
    with pytest.raises(simrep.InvalidArgument, match=r"mask: the mask is \(N, T\) = \(32, 9\)"):
        simrep.compare(a, a, sequence="mean", mask=mask[:, :9])
    with pytest.raises(simrep.InvalidArgument, match="every position is padding"):
        simrep.compare(a, a, sequence="mean", mask=np.zeros_like(mask))
    with pytest.raises(simrep.InvalidArgument, match=r"value 2 at \[0, 1\]"):
        bad = mask.astype(np.uint8)
        bad[0, 1] = 2
        simrep.compare(a, a, sequence="mean", mask=bad)
    with pytest.raises(simrep.InvalidArgument, match="per-step"):
        simrep.compare(a, a, sequence="per-step", mask=mask)
    with pytest.raises(simrep.InvalidArgument, match="give sequence="):
        simrep.compare(a, a, mask=mask)
