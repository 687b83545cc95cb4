"""Two costs that every NequIP model build repeats without need, cut for the training runner.

A training job builds its network three times: once to train, and twice in `nequip-package build`
(the checkpoint's network inside each wrapper a package holds, `eager` and `compile`).  One build
of the paper's model takes ~0.9 s on a CPU core, of the demo's ~0.45 s (the model's CPU work even
where it trains on a GPU), and a learning curve is hundreds of short jobs:

- ~40 % of a build is e3nn's `normalize2mom`, which estimates an activation's second moment from a
  million seeded normal samples for every layer it builds: `remember_activation_moments` computes
  each (activation, power, dtype, device) once per process.  (Not in the warm server before it
  forks: those are parallel tensor operations, and a child forked after OpenMP ran hangs at its
  first parallel region; a job computes its one activation once, ~0.05 s);
- the packaging's second build makes the network of the first: `one_network_per_package` hands
  the first to both wrappers.  Each wrapper then has the checkpoint's weights loaded into it (the
  same ones) and is pickled on its own, so a loaded package holds two independent networks, as
  before (test_model_builds compares packages built with and without it).
"""
from __future__ import annotations

import contextlib
import functools
import types

import torch

_packaging: dict | None = None  # the networks built so far, inside `one_network_per_package`


def remember_activation_moments() -> None:
    """Make e3nn's `moment` compute each (function, power, dtype, device) once per process.

    e3nn draws the samples from a generator seeded with 0, so the moment is a constant of its
    arguments and the remembered value is the one e3nn would compute (to the bit).  Remembered
    only for builtins and functions without a closure (NequIP's activations); a module or a
    closure, whose result can change with its state, is computed every time.  Idempotent."""
    from e3nn.math import _normalize_activation as e3nn_normalize
    from e3nn.util.default_type import explicit_default_types

    compute = e3nn_normalize.moment
    if getattr(compute, "remembered", None) is not None:
        return
    remembered: dict[tuple, torch.Tensor] = {}

    @functools.wraps(compute)
    def moment(f, n, dtype=None, device=None):
        if not (isinstance(f, types.BuiltinFunctionType)
                or isinstance(f, types.FunctionType) and f.__closure__ is None):
            return compute(f, n, dtype=dtype, device=device)
        dtype, device = explicit_default_types(dtype, device)
        key = (f, n, dtype, str(torch.device(device)))
        if key not in remembered:
            remembered[key] = compute(f, n, dtype=dtype, device=device)
        return remembered[key].clone()

    moment.remembered = remembered
    e3nn_normalize.moment = moment


@contextlib.contextmanager
def one_network_per_package():
    """Inside: a builder decorated with `shared_while_packaging` returns, for the same arguments,
    the network it built first (for `nequip-package build` and nothing else: a shared network is
    fine there because both wrappers get the same weights and are pickled separately)."""
    global _packaging
    outer, _packaging = _packaging, {}
    try:
        yield
    finally:
        _packaging = outer


def shared_while_packaging(builder):
    """`builder` (a network builder under NequIP's `model_builder`, which seeds each build), with
    its network reused inside `one_network_per_package`; a build inside another shared builder's
    (a fine-tune's, which loads weights into it) is never reused."""
    @functools.wraps(builder)
    def build(*args, **kwargs):
        global _packaging
        shared = _packaging
        if shared is None:
            return builder(*args, **kwargs)
        key = (builder.__qualname__, repr(args), repr(sorted(kwargs.items())), torch.get_default_dtype(),
               torch.initial_seed())
        if key not in shared:
            _packaging = None  # the builds inside this one are its own
            try:
                shared[key] = builder(*args, **kwargs)
            finally:
                _packaging = shared
        return shared[key]

    return build
