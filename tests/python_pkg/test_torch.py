"""simrep.torch.capture on a small model with Conv2d and LSTM layers."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import simrep  # noqa: E402
import simrep.torch as st  # noqa: E402

torch.set_num_threads(1)


class Net(torch.nn.Module):
    def __init__(self, batch_first=True):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.relu = torch.nn.ReLU(inplace=True)  # overwrites conv's output in place
        self.lstm = torch.nn.LSTM(32, 16, batch_first=batch_first)
        self.drop = torch.nn.Dropout(0.5)
        self.fc = torch.nn.Linear(16, 5)
        self.batch_first = batch_first

    def forward(self, x):
        h = self.relu(self.conv(x))                      # N, 4, 8, 8
        seq = h.permute(0, 3, 1, 2).reshape(len(x), 8, 32)  # N, T=8, 32
        if not self.batch_first:
            seq = seq.transpose(0, 1)
        out, _ = self.lstm(seq)
        last = out[:, -1] if self.batch_first else out[-1]
        return self.fc(self.drop(last))


def _data(n=90):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 1, 8, 8, generator=g)


def _hook_count(model):
    return sum(len(m._forward_hooks) for m in model.modules())


def _reference(net, x):
    """The activations computed by hand, no hooks (eval mode, then restored)."""
    mode = net.training
    net.eval()
    with torch.no_grad():
        conv = net.conv(x)
        h = torch.relu(conv)
        seq = h.permute(0, 3, 1, 2).reshape(len(x), 8, 32)
        out, _ = net.lstm(seq if net.batch_first else seq.transpose(0, 1))
        out = out if net.batch_first else out.transpose(0, 1)
        fc = net.fc(out[:, -1])
    net.train(mode)
    return conv.numpy(), out.numpy(), fc.numpy()


def test_capture_over_batches():
    torch.manual_seed(0)
    net = Net()
    net.train()
    x = _data()
    loader = [(x[i:i + 25], torch.zeros(len(x[i:i + 25]))) for i in range(0, len(x), 25)]  # uneven last batch
    acts = st.capture(net, ["conv", "lstm", "fc"], loader)
    conv, lstm, fc = _reference(net, x)
    assert acts["conv"].shape == (90, 4, 8, 8)  # conv outputs stay 4-D
    assert acts["lstm"].shape == (90, 8, 16)   # the LSTM's first output, not (h, c)
    np.testing.assert_allclose(acts["conv"], conv, atol=1e-6)  # before the in-place ReLU
    assert acts["conv"].min() < 0
    np.testing.assert_allclose(acts["lstm"], lstm, atol=1e-6)
    np.testing.assert_allclose(acts["fc"], fc, atol=1e-6)  # eval mode: dropout off
    assert net.training  # mode restored
    assert _hook_count(net) == 0
    one = st.capture(net, "fc", x)  # a single tensor
    np.testing.assert_allclose(one["fc"], fc, atol=1e-6)


def test_time_first_lstm_is_returned_batch_first():
    torch.manual_seed(1)
    net = Net(batch_first=False)
    x = _data(40)
    acts = st.capture(net, ["lstm"], [x[:15], x[15:]])
    _, lstm, _ = _reference(net, x)
    assert acts["lstm"].shape == (40, 8, 16)
    np.testing.assert_allclose(acts["lstm"], lstm, atol=1e-6)


def test_stream_into_moments_equals_kept_activations():
    torch.manual_seed(2)
    net = Net()
    x = _data(120)
    loader = [(x[i:i + 50],) for i in range(0, 120, 50)]
    acts = st.capture(net, ["conv", "lstm", "fc"], loader)
    into = {("conv", "lstm"): None, ("lstm", "fc"): simrep.Moments(128, 5)}
    out = st.capture(net, [], loader, into=into)
    assert out is into and into[("conv", "lstm")].n == 120
    for a, b in into:
        # cka and procrustes: n = 120 < p + q makes the CCA ill-posed here (its
        # streamed-vs-one-shot agreement is tested on well-posed data elsewhere)
        want = simrep.compare(acts[a].reshape(120, -1), acts[b].reshape(120, -1), ["cka", "procrustes"])
        got = into[(a, b)].compare(["cka", "procrustes"])
        for mid in want:
            assert abs(got[mid]["similarity"] - want[mid]["similarity"]) <= 1e-9, (a, b, mid)
    seen = []
    assert st.capture(net, ["fc"], loader, stream=lambda batch: seen.append(batch["fc"].copy())) is None
    np.testing.assert_allclose(np.concatenate(seen), acts["fc"], atol=1e-6)
    assert _hook_count(net) == 0


def test_hooks_removed_after_errors():
    net = Net()
    x = _data(10)
    with pytest.raises(ValueError, match="no module named 'nope'.*conv, relu, lstm"):
        st.capture(net, ["conv", "nope"], x)
    assert _hook_count(net) == 0

    def bad_batches():
        yield x[:5]
        raise RuntimeError("loader broke")

    with pytest.raises(RuntimeError, match="loader broke"):
        st.capture(net, ["conv", "lstm"], bad_batches())
    assert _hook_count(net) == 0
    with pytest.raises(RuntimeError):  # the model itself fails (wrong input shape)
        st.capture(net, ["conv"], torch.randn(4, 3, 8, 8))
    assert _hook_count(net) == 0

    def stop(batch):
        raise KeyError("consumer failed")

    with pytest.raises(KeyError):
        st.capture(net, ["fc"], x, stream=stop)
    assert _hook_count(net) == 0 and net.training


def test_bfloat16_model():
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 4)).bfloat16()
    x = torch.randn(200, 6).bfloat16()
    acts = st.capture(net, ["0", "2"], x)
    assert acts["0"].dtype == np.float32 and acts["0"].shape == (200, 8)
    moms = st.capture(net, [], x, into={("0", "2"): None})
    got = moms[("0", "2")].compare(["cka"])["cka"]["similarity"]
    want = simrep.compare(acts["0"], acts["2"], ["cka"])["cka"]["similarity"]
    assert abs(got - want) <= 1e-12  # bf16 values are exact in float32
