"""Activations of PyTorch modules, for simrep.

    acts = simrep.torch.capture(model, ["conv1", "lstm"], loader)      # {name: numpy array}
    moms = simrep.torch.capture(model, [], loader, into={("conv1", "fc"): None})  # streamed

capture() registers forward hooks on the named modules (names as in
model.named_modules()), runs the model under torch.no_grad() over the inputs
and removes the hooks afterwards, also when the forward pass raises.

inputs: a tensor (one batch) or an iterable of batches, as a DataLoader
yields them: a tensor, a (inputs, targets, ...) tuple or list (the first
element is fed to the model), or a dict (passed as keyword arguments).

What is captured for a layer, per batch, samples first:
  - the module's output; for modules that return tuples or lists (LSTM, GRU,
    attention blocks) the first tensor in it (LSTM: the output sequence);
  - recurrent layers and nn.MultiheadAttention with batch_first=False are
    transposed to (batch, time, features), so batches concatenate on axis 0;
  - conv outputs stay 4-D (N, C, H, W).
Outputs are cloned in the hook (a later in-place op such as ReLU(inplace=True)
would otherwise change them).  bfloat16 outputs are returned as float32
numpy arrays (numpy has no bfloat16); streamed ones go to simrep as bfloat16.

Instead of keeping every activation:
  - into={(a, b): Moments or None, ...} folds each batch of layer a (x) and
    layer b (y), flattened to (N, features), into a simrep.Moments (created
    at the first batch when the value is None) and returns the dict; the
    layers of the pairs are hooked in addition to `layers`;
  - stream=callback calls callback({name: numpy array}) once per batch (the
    arrays are only valid during the call: copy what you keep).
Layers that are flattened for Moments: conv (N, C, H, W) -> (N, C*H*W),
sequences (N, T, H) -> (N, T*H); per-position or per-step comparisons come
with simrep's conv/sequence input support.

The model is put in eval mode during the capture (dropout off, batch norm
running statistics) and restored afterwards; train=True keeps its mode.
A module that runs more than once in one forward pass (a shared layer) is an
error: which call to keep is ambiguous.
"""

import contextlib

import numpy as np
import torch

from ._core import Moments
from ._errors import InvalidArgument

__all__ = ["capture", "hooks"]


def _first_tensor(out):
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, torch.nn.utils.rnn.PackedSequence):
        raise InvalidArgument("the module returned a PackedSequence; capture a layer after it is unpacked "
                              "(pad_packed_sequence) instead")
    if isinstance(out, (tuple, list)):
        for o in out:
            t = _first_tensor(o)
            if t is not None:
                return t
    if isinstance(out, dict):
        for o in out.values():
            t = _first_tensor(o)
            if t is not None:
                return t
    return None


def _batch_first(module, t):
    time_first = (isinstance(module, torch.nn.RNNBase) and not module.batch_first) or (
        isinstance(module, torch.nn.MultiheadAttention) and not module.batch_first)
    if time_first and t.dim() == 3:
        return t.transpose(0, 1)
    return t


@contextlib.contextmanager
def hooks(model, layers, sink):
    """Forward hooks on model's named modules for the duration of the block:
    sink(name, tensor) gets each output (first tensor, samples first,
    detached and cloned).  The hooks are removed on exit, also on error."""
    modules = dict(model.named_modules())
    missing = [name for name in layers if name not in modules]
    if missing:
        names = [n for n in modules if n]
        raise InvalidArgument("no module named %s in the model (named_modules: %s%s)"
                              % (", ".join(repr(m) for m in missing), ", ".join(names[:30]),
                                 ", ..." if len(names) > 30 else ""))
    handles = []

    def make(name, module):
        def hook(mod, args, out):
            t = _first_tensor(out)
            if t is None:
                raise InvalidArgument("module %r returned %s, which holds no tensor" % (name, type(out).__name__))
            sink(name, _batch_first(module, t).detach().clone())
        return hook

    try:
        for name in layers:
            handles.append(modules[name].register_forward_hook(make(name, modules[name])))
        yield
    finally:
        for h in handles:
            h.remove()


def _batches(inputs):
    if isinstance(inputs, torch.Tensor):
        yield (inputs,), {}
        return
    for b in inputs:
        if isinstance(b, torch.Tensor):
            yield (b,), {}
        elif isinstance(b, (tuple, list)):
            if not b:
                raise InvalidArgument("an empty batch")
            yield (b[0],), {}
        elif isinstance(b, dict):
            yield (), b
        else:
            yield (b,), {}


def _to_device(v, device):
    return v.to(device) if device is not None and isinstance(v, torch.Tensor) else v


def _numpy(t):
    t = t.cpu()
    if t.dtype == torch.bfloat16:
        t = t.float()
    return t.numpy()


def capture(model, layers, inputs, *, into=None, stream=None, train=False, device=None):
    """Run model over inputs and collect the outputs of the named layers.

    Returns {name: numpy array, batches concatenated on axis 0} or, with
    into=, the into dict with its Moments filled, or, with stream=, None.
    See the module doc for inputs, tuples, layouts and streaming."""
    if isinstance(layers, str):
        layers = [layers]
    layers = list(layers)
    if into is not None and stream is not None:
        raise InvalidArgument("give into= or stream=, not both")
    pairs = []
    if into is not None:
        for key, m in into.items():
            if not (isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, str) for k in key)):
                raise InvalidArgument("into= maps (layer_x, layer_y) name pairs to Moments or None, got key %r"
                                      % (key,))
            if m is not None and not isinstance(m, Moments):
                raise InvalidArgument("into[%r] must be a simrep.Moments or None, not %s" % (key, type(m).__name__))
            pairs.append(key)
    hooked = list(dict.fromkeys(layers + [name for pair in pairs for name in pair]))
    if not hooked:
        raise InvalidArgument("no layers to capture")

    batch = {}

    def sink(name, t):
        if name in batch:
            raise InvalidArgument("module %r ran more than once in one forward pass (a shared module?); "
                                  "capture cannot tell which output to keep" % name)
        batch[name] = t

    kept = {name: [] for name in layers}
    was_training = model.training
    try:
        if not train:
            model.eval()
        with hooks(model, hooked, sink), torch.no_grad():
            for args, kwargs in _batches(inputs):
                batch.clear()
                model(*[_to_device(a, device) for a in args],
                      **{k: _to_device(v, device) for k, v in kwargs.items()})
                silent = [name for name in hooked if name not in batch]
                if silent:
                    raise InvalidArgument("layer %s did not run in the forward pass" % ", ".join(map(repr, silent)))
                if stream is not None:
                    stream({name: _numpy(batch[name]) for name in layers})
                    continue
                for key in pairs:
                    xb = batch[key[0]].reshape(len(batch[key[0]]), -1)
                    yb = batch[key[1]].reshape(len(batch[key[1]]), -1)
                    if into[key] is None:
                        into[key] = Moments(xb.shape[1], yb.shape[1])
                    into[key].update(xb.cpu(), yb.cpu())
                if into is None:
                    for name in layers:
                        kept[name].append(_numpy(batch[name]))
    finally:
        batch.clear()
        model.train(was_training)
    if stream is not None:
        return None
    if into is not None:
        return into
    return {name: (np.concatenate(v, axis=0) if v else np.zeros((0,))) for name, v in kept.items()}
