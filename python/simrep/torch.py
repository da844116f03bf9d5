"""Activations of PyTorch modules, for simrep.

    acts = simrep.torch.capture(model, ["conv1", "lstm"], loader)      # {name: numpy array}
    moms = simrep.torch.capture(model, [], loader, into={("conv1", "fc"): None})  # streamed
    acts, mask = simrep.torch.capture(encoder, ["layers.0"], loader, mask="attention_mask")
    res = simrep.torch.compare_models(model_a, model_b, loader, layers_a=[...], layers_b=[...])

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

Padded batches of sequences (transformers): mask= names the batch's token
mask, 1 = token and 0 = padding (a tokenizer's attention_mask): a key of
dict batches, or a callable batch -> (B, T) mask or (B,) lengths (for
PyTorch's src_key_padding_mask, True = padding: mask=lambda b:
~b["src_key_padding_mask"]).  capture then returns (acts, mask): sequence
outputs (B, T, D) of batches padded to different T are padded with zeros to
the longest, and mask is the matching (N, T) bool array (or the (N,)
lengths), ready for simrep.compare(a, b, sequence=..., mask=mask).  Nested
tensors (the fast path of nn.TransformerEncoder in eval mode) are turned
back into padded tensors.

The model is put in eval mode during the capture (dropout off, batch norm
running statistics) and restored afterwards; train=True keeps its mode.
A module that runs more than once in one forward pass (a shared layer) is an
error: which call to keep is ambiguous.

compare_models(model_a, model_b, loader, layers_a, layers_b) is the
torch_cka / anatome workflow done exactly: one pass of the loader through
both models into one K-input simrep.Moments (every layer of both), then the
layer x layer matrix of any linear measure, equal to comparing the full
activations pair by pair (no minibatch estimate).
"""

import contextlib
import ctypes
import os
import warnings

import numpy as np
import torch

from . import _input, _native
from ._core import _BY_ID, Moments, SimrepWarning, _measure_list, _options, _prepare_pairs
from ._errors import Context, InvalidArgument

__all__ = ["capture", "compare_models", "hooks"]


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


def _padded(t):
    """Nested tensors (nn.TransformerEncoder's fast path with a padding
    mask) as ordinary padded tensors."""
    if getattr(t, "is_nested", False):
        return t.to_padded_tensor(0.0)
    return t


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
            sink(name, _batch_first(module, _padded(t)).detach().clone())
        return hook

    try:
        for name in layers:
            handles.append(modules[name].register_forward_hook(make(name, modules[name])))
        yield
    finally:
        for h in handles:
            h.remove()


def _batches(inputs):
    """(args, kwargs, batch) for each batch: what the model is called with,
    and the batch itself (for masks)."""
    if isinstance(inputs, torch.Tensor):
        yield (inputs,), {}, inputs
        return
    for b in inputs:
        if isinstance(b, torch.Tensor):
            yield (b,), {}, b
        elif isinstance(b, (tuple, list)):
            if not b:
                raise InvalidArgument("an empty batch")
            yield (b[0],), {}, b
        elif isinstance(b, dict):
            yield (), b, b
        else:
            yield (b,), {}, b


def _mask_getter(mask):
    """batch -> numpy mask ((B, T) bool or (B,) int64 lengths) for mask=."""
    if mask is None:
        return None
    if isinstance(mask, str):
        if "padding" in mask:
            raise InvalidArgument("mask=%r looks like a padding mask (True = padding); mask= wants 1 for a token: "
                                  "pass mask=lambda b: ~b[%r]" % (mask, mask))

        def get(batch):
            if not isinstance(batch, dict) or mask not in batch:
                raise InvalidArgument("mask=%r names a key of dict batches, but a batch is %s%s"
                                      % (mask, type(batch).__name__,
                                         " with keys %s" % ", ".join(map(repr, batch)) if isinstance(batch, dict)
                                         else " (use mask=callable(batch) for other batches)"))
            return batch[mask]
    elif callable(mask):
        get = mask
    else:
        raise InvalidArgument("mask= is a key of dict batches or a callable(batch) returning the batch's (B, T) "
                              "token mask or (B,) lengths, not %s" % type(mask).__name__)

    def as_numpy(batch):
        m = get(batch)
        m = m.detach().cpu().numpy() if isinstance(m, torch.Tensor) else np.asarray(m)
        if m.ndim == 2:
            if m.dtype != bool and not np.isin(m, (0, 1)).all():
                raise InvalidArgument("the batch's mask holds values other than 0 and 1 (1 = token, 0 = padding)")
            return m.astype(bool)
        if m.ndim == 1 and m.dtype.kind in "iu":
            return m.astype(np.int64)
        raise InvalidArgument("the batch's mask has shape %s and dtype %s: a (B, T) token mask (1 = token) or (B,) "
                              "integer lengths" % (m.shape, m.dtype))
    return as_numpy


def _pad_steps(a, steps):
    """a (B, T, ...) zero-padded along axis 1 to steps."""
    if a.shape[1] >= steps:
        return a
    pad = [(0, 0)] * a.ndim
    pad[1] = (0, steps - a.shape[1])
    return np.pad(a, pad)


def _to_device(v, device):
    return v.to(device) if device is not None and isinstance(v, torch.Tensor) else v


def _numpy(t):
    t = t.cpu()
    if t.dtype == torch.bfloat16:
        t = t.float()
    return t.numpy()


def capture(model, layers, inputs, *, into=None, stream=None, train=False, device=None, mask=None):
    """Run model over inputs and collect the outputs of the named layers.

    Returns {name: numpy array, batches concatenated on axis 0} or, with
    into=, the into dict with its Moments filled, or, with stream=, None;
    with mask= (padded sequences), (that dict, the mask).  See the module
    doc for inputs, tuples, layouts, masks and streaming."""
    if isinstance(layers, str):
        layers = [layers]
    layers = list(layers)
    if into is not None and stream is not None:
        raise InvalidArgument("give into= or stream=, not both")
    get_mask = _mask_getter(mask)
    if get_mask is not None and (into is not None or stream is not None):
        raise InvalidArgument("mask= goes with the returned activations; for streaming with a mask use "
                              "compare_models(..., sequence=, mask=)")
    masks = []
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
            for args, kwargs, raw in _batches(inputs):
                batch.clear()
                if get_mask is not None:
                    masks.append(get_mask(raw))
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
    if get_mask is None:
        return {name: (np.concatenate(v, axis=0) if v else np.zeros((0,))) for name, v in kept.items()}
    # Padded batches: every sequence output to the longest T, and the mask with it.
    kinds = {m.ndim for m in masks}
    if len(kinds) > 1:
        raise InvalidArgument("mask= gave (B, T) masks for some batches and lengths for others")
    steps = max((m.shape[1] for m in masks if m.ndim == 2), default=0)
    acts = {}
    for name, v in kept.items():
        if v and v[0].ndim == 3:
            for i, (a, m) in enumerate(zip(v, masks)):
                if m.ndim == 2 and a.shape[1] > m.shape[1]:
                    raise InvalidArgument("layer %r gives %d steps in batch %d but its mask has %d"
                                          % (name, a.shape[1], i, m.shape[1]))
            longest = max([a.shape[1] for a in v] + [steps])
            v = [_pad_steps(a, longest) for a in v]
        acts[name] = np.concatenate(v, axis=0) if v else np.zeros((0,))
    if kinds == {2}:
        mask_out = np.concatenate([_pad_steps(m, steps) for m in masks], axis=0)
    else:
        mask_out = np.concatenate(masks, axis=0) if masks else np.zeros((0,), dtype=np.int64)
    return acts, mask_out


def _physical_memory():
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def _layout_advice(name, t, sequence, conv_mode):
    """The option a layer's output needs before it can be compared, or None."""
    if t.dim() == 3 and sequence is None:
        return ("layer %r gives (batch, T, D) = %s sequences: give sequence='flatten' (every token a sample), "
                "'first', 'last' or 'mean' (with mask= for padded batches)" % (name, tuple(t.shape)))
    if t.dim() == 4 and conv_mode is None:
        return ("layer %r gives (N, C, H, W) = %s conv maps: give conv_mode='pool' (one C-vector per image, the "
                "usual choice for a layer x layer matrix), 'positions' (every position a sample; layers of "
                "different sizes need resize=) or 'flatten' (C*H*W features)" % (name, tuple(t.shape)))
    if t.dim() not in (2, 3, 4):
        return "layer %r gives a %d-D output %s: compare_models reads 2-D, 3-D and 4-D outputs" % (
            name, t.dim(), tuple(t.shape))
    return None


def compare_models(model_a, model_b, loader, layers_a, layers_b, measures=None, *, names=("a", "b"),
                   conv_mode=None, resize=None, sequence=None, mask=None, device=None, train=False,
                   all_reduce=False, group=None, warn=True, **options):
    """The layer x layer similarity of two models over one pass of a loader.

    Every batch of loader (batches as capture() takes them) runs through
    model_a and model_b under torch.no_grad() (eval mode unless train=True;
    each model's mode is restored afterwards); the outputs of layers_a and
    layers_b (names of model.named_modules()) are folded, all at once, into
    one K-input simrep.Moments (K = len(layers_a) + len(layers_b); the
    library's many-input moments: one joint product per batch gives every
    pair's cross terms), and nothing else is kept.  Then, for every layer i
    of model_a and j of model_b, the measures of the pair (i, j) from the
    moments: exactly what simrep.compare gives on the full activations of
    the two layers (the torch_cka / anatome workflow without the minibatch
    estimate).  model_b may be model_a (one forward pass per batch).

    Outputs: 2-D (batch, features) as they are; (batch, T, D) sequences
    through sequence= ('flatten', 'first', 'last' or 'mean') and mask= (the
    batch's token mask as in capture(): a dict key or a callable, 1 = token),
    applied to every sequence output of both models; (N, C, H, W) conv maps
    through conv_mode= ('pool', 'positions' or 'flatten') and resize= for
    positions of different sizes.  These are simrep.compare's layouts, done
    by the library batch by batch.  Every layer must give the same rows
    (samples) per batch.

    measures: linear measures (default cca, svcca, pwcca, cka); cka_rbf needs
    the rows, use capture() and simrep.compare for it.  Options as
    simrep.compare.  all_reduce=True: under torch.distributed (each rank
    seeing its shard of the data, e.g. through a DistributedSampler) the
    Moments of every rank are merged first (Moments.all_reduce(group)), so
    every rank returns the full-data matrix.

    Memory: the joint scatter, (sum of every layer's features)^2 doubles
    (refused up front when that is more than the machine has), plus one
    batch of activations.

    Returns {"n": samples, "layers_a", "layers_b", "names": the K inputs
    ("a:layer", "b:layer"), "measures": {id: {"similarity": La x Lb array,
    "distance": La x Lb array}}, "kept": {input name: features kept by the
    CCA family}, "moments": the K-input Moments (inputs in "names" order;
    moments.matrix() gives every pair, within each model too)}.
    """
    if isinstance(layers_a, str):
        layers_a = [layers_a]
    if isinstance(layers_b, str):
        layers_b = [layers_b]
    layers_a, layers_b = list(layers_a), list(layers_b)
    if not layers_a or not layers_b:
        raise InvalidArgument("compare_models needs at least one layer of each model (layers_a, layers_b)")
    if len(set(layers_a)) != len(layers_a) or len(set(layers_b)) != len(layers_b):
        raise InvalidArgument("a layer is listed twice in layers_a or layers_b")
    ids = _measure_list(measures)
    rows_needed = [m for m in ids if _BY_ID[m][1]["family"] == "rows"]
    if rows_needed:
        raise InvalidArgument("%s needs the rows themselves, not moments: capture() the layers and call "
                              "simrep.compare on them" % ", ".join(rows_needed))
    buf, o = _options(**options)
    get_mask = _mask_getter(mask)
    if get_mask is not None and sequence is None:
        raise InvalidArgument("mask says which steps of sequence outputs are tokens: give sequence='flatten', "
                              "'first', 'last' or 'mean' too")
    same = model_b is model_a
    models = [model_a] if same else [model_a, model_b]
    # The inputs of the Moments: (model index, layer), each once.
    inputs = [(0, name) for name in layers_a]
    index_a = list(range(len(layers_a)))
    index_b = []
    for name in layers_b:
        key = (0 if same else 1, name)
        if key not in inputs:
            inputs.append(key)
        index_b.append(inputs.index(key))
    labels = ["%s:%s" % (names[0] if k == 0 else names[1], name) for k, name in inputs]
    if same:  # a layer in both lists is one input, named for model a
        for j, name in zip(index_b, layers_b):
            if j >= len(layers_a):
                labels[j] = "%s:%s" % (names[1], name)
    hooked = [[name for k, name in inputs if k == mi] for mi in range(len(models))]
    outs = [{} for _ in models]

    def sinker(mi):
        def sink(name, t):
            if name in outs[mi]:
                raise InvalidArgument("module %r ran more than once in one forward pass (a shared module?); "
                                      "compare_models cannot tell which output to keep" % name)
            outs[mi][name] = t
        return sink

    K = len(inputs)
    moments = None
    features = None
    modes = [m.training for m in models]
    with Context() as ctx, contextlib.ExitStack() as stack:
        try:
            for mi, m in enumerate(models):
                if not train:
                    m.eval()
                stack.enter_context(hooks(m, hooked[mi], sinker(mi)))
            stack.enter_context(torch.no_grad())
            for b, (args, kwargs, raw) in enumerate(_batches(loader)):
                for mi, m in enumerate(models):
                    outs[mi].clear()
                    m(*[_to_device(a, device) for a in args], **{k: _to_device(v, device) for k, v in kwargs.items()})
                    silent = [name for name in hooked[mi] if name not in outs[mi]]
                    if silent:
                        raise InvalidArgument("layer %s of model_%s did not run in the forward pass"
                                              % (", ".join(map(repr, silent)), "ab"[mi]))
                tensors = [outs[k][name] for k, name in inputs]
                for (k, name), t in zip(inputs, tensors):
                    advice = _layout_advice(name, t, sequence, conv_mode)
                    if advice:
                        raise InvalidArgument(advice)
                batch_mask = get_mask(raw) if get_mask is not None else None
                opened = _Opened()
                try:
                    blocks = _batch_blocks(ctx, tensors, labels, batch_mask, b, conv_mode, resize, sequence, opened)
                    if moments is None:
                        features = [int(v.cols) for v in blocks]
                        need = 8.0 * float(sum(features)) ** 2
                        have = _physical_memory()
                        if have and need > have:
                            raise InvalidArgument(
                                "the %d layers have %d features in all: their joint scatter needs %.1f GiB, more "
                                "than this machine's %.1f GiB; compare fewer layers or features (conv_mode='pool', "
                                "sequence='mean')" % (K, sum(features), need / 2 ** 30, have / 2 ** 30))
                        moments = Moments(*features)
                    got = [int(v.cols) for v in blocks]
                    if got != features:
                        bad = next(i for i in range(K) if got[i] != features[i])
                        raise InvalidArgument("%s gives %d features in batch %d but %d in batch 0"
                                              % (labels[bad], got[bad], b, features[bad]))
                    moments._update_multi(blocks, labels)
                    for k, inp in enumerate(opened.inputs):  # read as float64: the layer's own dtype
                        moments._note_code(k, inp.dtype)
                finally:
                    opened.close(ctx)
        finally:
            for m, mode in zip(models, modes):
                m.train(mode)
            for d in outs:
                d.clear()
    if moments is None:
        raise InvalidArgument("the loader gave no batches")
    if all_reduce:
        moments.all_reduce(group)
    return _cross_block(moments, ids, buf, o, labels, layers_a, layers_b, index_a, index_b, warn)


class _Opened:
    """The inputs (and the mask they point at) of one batch, closed together."""

    def __init__(self):
        self.inputs = []
        self.mask = None

    def close(self, ctx):
        for inp in self.inputs:
            inp.close(ctx)
        self.inputs = []
        if self.mask is not None:
            self.mask.close(ctx)
            self.mask = None


def _batch_blocks(ctx, tensors, labels, batch_mask, b, conv_mode, resize, sequence, opened):
    """One batch of every layer as samples x features views (a ctypes array
    of K Matrix), read through the library's layouts; the inputs are left
    in opened, to be closed after the update."""
    ins = opened.inputs
    if batch_mask is not None:
        if batch_mask.ndim == 2:
            # nested-tensor outputs come back only as long as the longest sequence
            tensors = [torch.nn.functional.pad(t, (0, 0, 0, batch_mask.shape[1] - t.shape[1]))
                       if t.dim() == 3 and t.shape[1] < batch_mask.shape[1] else t for t in tensors]
        opened.mask = _input.Mask(ctx, batch_mask, "the mask of batch %d" % b)
    conv = "nchw" if any(t.dim() == 4 for t in tensors) else None
    lay = _input.layout(False, conv, conv_mode if conv else None, resize if conv else None, sequence,
                        opened.mask, per_step=False)
    for t, label in zip(tensors, labels):
        ins.append(_input.Input(ctx, t.cpu(), label, lay))
    _input.agree(ctx, ins)
    rows = {inp.rows for inp in ins}
    if len(rows) > 1:
        raise InvalidArgument("batch %d gives different numbers of samples per layer (%s): every layer must "
                              "give the same rows (2-D layers next to sequence flatten or conv positions?)"
                              % (b, ", ".join("%s %d" % (i.name, i.rows) for i in ins)), _native.E_SHAPE)
    views = (_native.Matrix * len(ins))()
    n = ins[0].rows
    for k, inp in enumerate(ins):
        views[k] = inp.read(ctx, 0, n)[0]
    return views


def _cross_block(moments, ids, buf, o, labels, layers_a, layers_b, index_a, index_b, warn):
    La, Lb = len(layers_a), len(layers_b)
    sim = {m: np.zeros((La, Lb)) for m in ids}
    dist = {m: np.zeros((La, Lb)) for m in ids}
    kept = dict(zip(labels, moments.features))
    few = False
    dead = 0
    noted = {}  # (label, flag): (kept, rank or shrunk), from the pairs whose side it was
    codes = (ctypes.c_int * len(ids))(*[_BY_ID[m][0] for m in ids])
    results = (_native.Result * len(ids))()
    ctx = moments._ctx
    with moments._lock:
        n = moments.n
        pairs = _prepare_pairs(ctx, moments._handle(), buf, ids)
        try:
            for a, i in enumerate(index_a):
                for c, j in enumerate(index_b):
                    if i == j:  # the same layer of the same model
                        for m in ids:
                            sim[m][a, c], dist[m][a, c] = 1.0, 0.0
                        continue
                    with ctx.named(labels):  # messages name the layers
                        st = _native.lib.simrep_pairs_compare(ctx.ptr, pairs, i, j, codes, len(ids), results)
                    try:
                        ctx.check(st)
                        for k, m in enumerate(ids):
                            r = results[k]
                            sim[m][a, c], dist[m][a, c] = r.similarity, r.distance
                            few |= r.warnings & (_native.WARN_FEW_SAMPLES | _native.WARN_FEW_SAMPLES_RANK)
                            if _BY_ID[m][1]["_outputs"] & _native.OUT_KEPT:
                                kept[labels[i]], kept[labels[j]] = int(r.kept_p), int(r.kept_q)
                                dead |= r.warnings & _native.WARN_DEAD_FEATURES
                                for lab, side, k, rank, shrunk in ((labels[i], 0, r.kept_p, r.rank_p, r.shrunk_p),
                                                                   (labels[j], 1, r.kept_q, r.rank_q, r.shrunk_q)):
                                    if r.warnings & (_native.WARN_ROUNDING_X << side):
                                        noted[(lab, _native.WARN_ROUNDING)] = (int(k), int(k - rank))
                                    if r.warnings & (_native.WARN_RIDGE_X << side):
                                        noted[(lab, _native.WARN_RIDGE)] = (int(k), int(shrunk))
                    finally:
                        for k in range(len(ids)):
                            _native.lib.simrep_result_clear(ctx.ptr, ctypes.byref(results[k]))
        finally:
            _native.lib.simrep_pairs_free(ctx.ptr, pairs)
    text = lambda flag: _native.lib.simrep_warning_text(flag).decode()  # noqa: E731
    if warn and few:
        flag = _native.WARN_FEW_SAMPLES_RANK if few & _native.WARN_FEW_SAMPLES_RANK else _native.WARN_FEW_SAMPLES
        warnings.warn("n = %d samples (the kept features of some layers) %s" % (n, text(flag)),
                      SimrepWarning, stacklevel=3)
    if warn and dead:
        for label, p in zip(labels, moments.features):
            if kept[label] < p:
                warnings.warn("%s: %d of %d %s" % (label, p - kept[label], p, text(_native.WARN_DEAD_FEATURES)),
                              SimrepWarning, stacklevel=3)
    for label in labels if warn else ():  # as matrix words them (the library's texts)
        for flag in (_native.WARN_ROUNDING, _native.WARN_RIDGE):
            if (label, flag) in noted:
                k, count = noted[(label, flag)]
                warnings.warn("%s: %d of %d %s" % (label, count, k, text(flag)), SimrepWarning, stacklevel=3)
    return {"n": n, "layers_a": list(layers_a), "layers_b": list(layers_b), "names": labels,
            "measures": {m: {"similarity": sim[m], "distance": dist[m]} for m in ids}, "kept": kept,
            "moments": moments}
