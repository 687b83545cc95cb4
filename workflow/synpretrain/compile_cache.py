"""Compiled training that compiles once per model architecture, not once per job.

NequIP's `compile_mode: compile` traces the model's energy and force computation with `make_fx`
(twice, to check that no batch size was baked in), then `torch.compile`s the trace: about 50 s of
one CPU core per training job, cold, and still ~18 s with Inductor's caches warm (the tracing is
never cached).  A learning curve is many short jobs of one architecture, so on a laptop compile
used to cost more than it saved.

Here the first job of an architecture does exactly that, but compiles the trace ahead of time
(`torch.compile(...).aot_compile`: Dynamo's bytecode and guards with Inductor's forward and
backward kernels) and writes the trace and the compiled function into one file of the cache
folder; every later job of that architecture loads it in ~2 s.  The file's name is a hash of
everything the trace depends on (`fingerprint`): torch, NequIP and Python versions, the device
kind (CUDA capability or CPU vector ISA), the module tree with its scalar settings, the input,
output and weight names, the weights' shapes and the inputs' dtypes, ranks and `requires_grad`
(frozen layers make another backward).  A loaded function must still pass NequIP's own check
(compiled output = eager output on the first batch); one that does not is discarded and compiled
afresh.  A batch outside the shapes the function was compiled for goes to an ordinary
`torch.compile` of the same trace (`Compiled`).  If ahead-of-time compiling fails or there is no
usable cache folder, NequIP's own compile runs; if that fails too (e.g. no C++ compiler), the
job trains eagerly.  Every such turn is said in the job's log ("[synpretrain] compile: ...").

The cache folder is `$SYNPRETRAIN_COMPILE_CACHE`, default `~/.cache/synpretrain/compiled`
(deleting it is always safe).  A file holds the kernels' source; their built libraries stay in
Inductor's own cache (TORCHINDUCTOR_CACHE_DIR, default /tmp/torchinductor_$USER): without them a
load rebuilds them, ~20 s on a laptop core, once per machine.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import pickle
import platform
import sys
import tempfile
import time
import types
from pathlib import Path

import torch

CACHE_ENV = "SYNPRETRAIN_COMPILE_CACHE"
FORMAT = 1  # of the cache files; part of every key
# Module attributes that do not change the trace: the train/eval flag, and the source that e3nn
# generates for its tensor products (names numbered by a process-wide counter: the same module
# built from a package or from scratch reads differently; its settings are in the repr).
IGNORED_ATTRIBUTES = frozenset({"training", "_code"})
RESTARTS = 3  # Dynamo's "restart analysis" requests honoured while compiling ahead of time


def cache_dir() -> Path:
    folder = os.environ.get(CACHE_ENV) or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") \
        / "synpretrain" / "compiled"
    return Path(folder)


def with_cached_compile(model):
    """Hydra target: the model `model` (a builder config or a module) with each of its NequIP
    `CompileGraphModel`s compiling through the cache.  Models not built for `compile` are
    returned unchanged."""
    from nequip.model import modify

    model = modify(model, [])  # NequIP builds a builder block as it does for its modifiers; none here
    for module in model.modules():
        if getattr(module, "is_compile_graph_model", False):
            module._compile_variant = types.MethodType(_compile_variant, module)
    return model


def device_kind(device: torch.device) -> str:
    """What compiled kernels are specific to: the CUDA capability or the CPU's vector ISA."""
    if device.type == "cuda":
        return "cuda sm_{}{}".format(*torch.cuda.get_device_capability(device))
    try:  # Inductor's own choice (it test-compiles each ISA once per process)
        from torch._inductor.cpu_vec_isa import pick_vec_isa

        isa = str(pick_vec_isa())
    except Exception:  # noqa: BLE001 - a torch without it: the processor's name stands in
        isa = platform.processor()
    return f"{device.type} {platform.machine()} {isa}"


def fingerprint(traced: torch.nn.Module, inputs: list[torch.Tensor]) -> str:
    """Hash of what NequIP's trace of `traced` (its flat-input wrapper) on `inputs` depends on."""
    import nequip

    parts = [f"format {FORMAT}", torch.__version__, nequip.__version__, sys.version.split()[0],
             device_kind(inputs[0].device), repr(traced)]
    parts += [repr(list(getattr(traced, name, ()))) for name in ("input_keys", "output_keys", "state_dict_keys")]
    for module in traced.modules():  # settings a module keeps as Python scalars are baked into the trace
        parts += [f"{type(module).__qualname__}.{key}={value!r}" for key, value in sorted(vars(module).items())
                  if isinstance(value, (bool, int, float, str)) and key not in IGNORED_ATTRIBUTES]
    parts += [f"{t.dtype} {t.dim()} {t.requires_grad}" for t in inputs]
    parts += [f"{name} {tuple(t.shape)}" for name, t in traced.state_dict().items()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _compile_variant(self, data: dict, input_signature: tuple, cache: dict) -> None:
    """`CompileGraphModel._compile_variant` through the cache (same contract: fills
    `cache[input_signature]` with (compiled function, output fields) and checks it)."""
    nequip_namespace = type(self).forward.__globals__  # NequIP's nn.compile, as this class's (a package has its own)
    if self.weight_names is None:
        self.weight_names = [name for name, _ in self.model.named_parameters()]
        self.buffer_names = [name for name, _ in self.model.named_buffers()]
    input_fields = list(input_signature)
    output_fields = tuple(sorted(type(self).__mro__[1].forward(self, data.copy()).keys()))  # the eager model's
    traced = nequip_namespace["ListInputOutputStateDictWrapper"](
        model=self.model, input_keys=input_fields, output_keys=output_fields,
        state_dict_keys=self.weight_names + self.buffer_names)
    weights, buffers = self._get_weights_buffers()
    inputs = [data[key] for key in input_fields] + weights + buffers
    path = cache_dir() / f"{fingerprint(traced, inputs)}.pt2"

    def check(function) -> None:  # NequIP's own: compiled output = eager output on this batch
        cache[input_signature] = (function, output_fields)
        nequip_namespace["test_model_output_similarity_by_dtype"](
            lambda batch: self._compiled_forward(batch, function, input_fields, output_fields), self.model,
            {key: data[key] for key in input_fields}, nequip_namespace["dtype_to_name"](self.model_dtype),
            fields=sorted(set(output_fields) & data.keys()), error_message=nequip_namespace["_pt2_compile_error_message"])

    clock = time.perf_counter()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # e.g. a read-only home: compile as NequIP does, in this job only
        _log(f"no cache folder ({error}); using NequIP's torch.compile")
        _fallback(self, data, input_signature, cache, output_fields, traced)
        return
    with _locked(path):  # jobs starting together: one compiles, the others then load
        function = _load(path)
        if function is not None:
            try:
                check(function)
            except Exception as error:  # noqa: BLE001 - a stale or foreign file: compile afresh
                _log(f"cached compiled model {path.name} failed NequIP's check ({error}); compiling afresh")
            else:
                _log(f"compiled model loaded from {path} in {time.perf_counter() - clock:.1f} s")
                return
        try:
            fx_model = nequip_namespace["nequip_make_fx"](model=traced, data=data, fields=input_fields,
                                                          extra_inputs=weights + buffers)
            compiled = _aot_compile(fx_model, inputs)
            check(Compiled(fx_model, compiled))
        except Exception as error:  # noqa: BLE001 - the slower compile path below still works
            _log(f"ahead-of-time compile failed ({type(error).__name__}: {error}); using NequIP's torch.compile")
            _fallback(self, data, input_signature, cache, output_fields, traced)
            return
        try:
            _save(path, fx_model, compiled)
        except (OSError, pickle.PicklingError, RuntimeError) as error:  # a full disk, an unpicklable trace
            _log(f"compiled in {time.perf_counter() - clock:.1f} s; not saved ({type(error).__name__}: {error})")
        else:
            _log(f"compiled in {time.perf_counter() - clock:.1f} s; saved to {path}")


def _aot_compile(fx_model: torch.fx.GraphModule, inputs: list[torch.Tensor]):
    """The trace compiled ahead of time with dynamic shapes (as NequIP's `torch.compile` call).
    Without duck sizing: sizes that happen to be equal in this batch (frames and a weight's width,
    say) must not become guards.  Dynamo's restart requests, which `torch.compile` follows by
    itself, are followed here."""
    from torch._dynamo.exc import TensorifyScalarRestartAnalysis
    from torch.fx.experimental import _config as fx_config

    compile_ = torch.compile(fx_model.forward, dynamic=True, fullgraph=True)
    with fx_config.patch(use_duck_shape=False):
        for _ in range(RESTARTS):
            with contextlib.suppress(TensorifyScalarRestartAnalysis):
                return compile_.aot_compile((tuple(inputs), {}))
        return compile_.aot_compile((tuple(inputs), {}))


class Compiled:
    """The trace's compiled function, called as NequIP calls its compiled model (flat inputs).
    A batch outside the shapes it was compiled for (its guards: e.g. Inductor compiles a tiny
    matrix product differently) goes to an ordinary `torch.compile` of the same trace, made the
    first time one is seen, as NequIP's own compile would recompile."""

    def __init__(self, fx_model: torch.fx.GraphModule, function):
        self.fx_model, self.function = fx_model, function
        self.function.disable_guard_check()  # checked here, once per call
        self.fallback = None

    def __call__(self, *args):
        if self.function.guard_check(self.fx_model, *args):
            return self.function(self.fx_model, *args)
        if self.fallback is None:
            _log("a batch outside the compiled model's shapes: compiling those with torch.compile")
            self.fallback = torch.compile(self.fx_model, dynamic=True, fullgraph=False)
        return self.fallback(*args)


def _fallback(self, data, input_signature, cache, output_fields, traced) -> None:
    try:
        type(self)._compile_variant(self, data, input_signature, cache)  # NequIP's own
    except Exception as error:  # noqa: BLE001 - compile is a speed setting, never a reason to fail
        _log(f"torch.compile failed too ({type(error).__name__}: {error}); training eagerly")
        cache[input_signature] = (lambda *args: traced(*args), output_fields)


def _save(path: Path, fx_model: torch.fx.GraphModule, compiled) -> None:
    """One file: the trace (its module holds the constants the compiled code reads) and the
    compiled function, written atomically."""
    dropped = {key: fx_model.__dict__.pop(key) for key in ("meta", "shape_env") if key in fx_model.__dict__}
    try:  # tracing metadata: neither picklable nor needed to run the module
        graph = pickle.dumps(fx_model)
    finally:
        fx_model.__dict__.update(dropped)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        compiled.save_compiled_function(str(Path(tmp) / "function"))
        function = (Path(tmp) / "function").read_bytes()
        staged = Path(tmp) / "staged"
        staged.write_bytes(pickle.dumps({"format": FORMAT, "graph": graph, "function": function}))
        os.replace(staged, path)


def _load(path: Path):
    """The cached compiled function (called like NequIP's: flat inputs), or None."""
    if not path.exists():
        return None
    try:
        saved = pickle.loads(path.read_bytes())
        fx_model = pickle.loads(saved["graph"])
        return Compiled(fx_model, torch.compiler.load_compiled_function(io.BytesIO(saved["function"])))
    except Exception as error:  # noqa: BLE001 - unreadable (another torch, a torn copy): compile afresh
        _log(f"cannot load {path} ({type(error).__name__}: {error}); compiling afresh")
        return None


@contextlib.contextmanager
def _locked(path: Path):
    """Held while this job loads or compiles `path`; where locks cannot be had (a read-only
    folder, a filesystem without them) at worst two jobs compile the same model."""
    try:
        lock = open(path.with_suffix(".lock"), "w")
    except OSError:
        yield
        return
    with lock:
        with contextlib.suppress(OSError):
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _log(message: str) -> None:
    print(f"[synpretrain] compile: {message}", flush=True)
