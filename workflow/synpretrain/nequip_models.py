"""NequIP model builders used as Hydra `_target_`s in the rendered `nequip-train` config.

`NequIP056Model` is the paper's architecture (NequIP 0.5.6's energy model) built from NequIP 0.19's
modules (`model.architecture: nequip-0.5.6`; `nequip-0.19` is NequIP's own `NequIPGNNModel`).
`with_kernel` picks the tensor products' kernel where the training runs (`training.kernel`).
`NequIPGNNModelFromPackage` fine-tunes a packaged model, with the average neighbour count of the
fine-tuning set (the paper recomputed it: docs/protocol.md) and, where asked, at another cut-off:

The paper's "unscaled" alchemical curve (Fig 5a) was pre-trained with r_max = 6 Angstrom on the
x1.5-scaled carbon structures and then fine-tuned on silicon with r_max = 4 Angstrom.  NequIP's
`ModelFromPackage` keeps the parent's cut-off and neighbour count, so `NequIPGNNModelFromPackage`
builds a fresh model of the parent's architecture (its edge-length normaliser, Bessel prefactor,
neighbour-count normalisation and metadata all follow the new settings) and loads every weight of
the packaged parent into it.  `nequip-package` rebuilds it the same way from the checkpoint, and
the packaged result holds only NequIP's own classes (so does a packaged `NequIP056Model`).
"""
from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path

import torch
from e3nn import o3
from hydra.utils import get_method
from nequip.data import AtomicDataDict
from nequip.model import model_builder
from nequip.nn import ApplyFactor, ConvNetLayer, ForceStressOutput, PerTypeScaleShift, SequentialGraphNetwork
from nequip.nn.atomwise import AtomwiseLinear, AtomwiseReduce
from nequip.nn.embedding import (BesselEdgeLengthEncoding, EdgeLengthNormalizer, NodeTypeEmbed, PolynomialCutoff,
                                 SphericalHarmonicEdgeAttrs)

from .model_builds import shared_while_packaging
from .nequip_config import ARCHITECTURES, DEFAULT_ARCHITECTURE

R_MAX_BUFFER = "_rmax_recip"  # the only weight-like tensor that depends on r_max


def load_packaged_model(package_path: str) -> torch.nn.Module:
    """The eager model of a `nequip-package` zip, through a private importer (never NequIP's
    package-time shared one, which `nequip-package` reserves for re-packaging a package)."""
    importer = torch.package.PackageImporter(package_path)
    models = importer.load_pickle(package="model", resource="eager_model.pkl", map_location="cpu")
    if isinstance(models, torch.nn.ModuleDict):  # NequIP packages a dict of (multitask) models
        if len(models) != 1:
            raise ValueError(f"{package_path} holds {len(models)} models ({', '.join(models)}); expected one")
        models = next(iter(models.values()))
    return models


def average_num_neighbors(model: torch.nn.Module) -> float:
    """The parent's `avg_num_neighbors`, from its normalisation constant 1/sqrt(N)."""
    norms = [module.norm_const for module in model.modules() if hasattr(module, "norm_const")]
    if not norms or norms[0].numel() != 1:
        raise ValueError("the packaged model has no single global avg_num_neighbors normalisation")
    return float(1.0 / norms[0].item() ** 2)


def live_irreps(features: o3.Irreps, edge_irreps: o3.Irreps, num_layers: int) -> list[o3.Irreps]:
    """Per interaction block, the part of `features` whose outputs can reach the energy: the last
    block's scalars, and before each block what its tensor products (feature x edge harmonic) or its
    self-connection (feature -> the same irrep) turn into something the next block needs."""
    outputs, needed = [], {o3.Irrep("0e")}
    for _ in range(num_layers):
        outputs.insert(0, o3.Irreps([(mul, ir) for mul, ir in features if ir in needed]))
        needed = {ir for _, ir in features
                  if ir in needed or any(out in needed for _, edge in edge_irreps for out in ir * edge)}
    return outputs


@model_builder
@shared_while_packaging
def NequIP056Model(r_max: float, type_names: list[str], num_layers: int, l_max: int, parity: bool, num_features: int,
                   radial_mlp_depth: int, radial_mlp_width: int, num_bessels: int, bessel_trainable: bool,
                   polynomial_cutoff_p: int, avg_num_neighbors: float | None = None,
                   per_type_energy_shifts=None, per_type_energy_scales=None,
                   per_type_energy_shifts_trainable: bool = False, per_type_energy_scales_trainable: bool = False,
                   full_layout: bool = False):
    """The energy model of NequIP 0.5.6 (the paper's), assembled from NequIP 0.19's modules.

    Where 0.19's `NequIPGNNModel` differs from the model the paper trained (docs/protocol.md):
    - the self-connection contracts the features with a one-hot of the species (a fixed identity
      embedding, a buffer), not with a learned `num_features`-wide type embedding;
    - every interaction block has a self-connection, the first one too (so an isolated atom's
      energy is learned, not fixed at the per-type shift, as in 0.5.6);
    - every block carries `num_features` x (l <= l_max, both parities) features;
    - the read-out is two linear maps, scalars -> num_features // 2 scalars -> the atomic energy.
    For the paper's settings (4 x 32, l_max 1, radial MLP 1 x 8, 8 trainable Bessel weights) 0.5.6's
    layout has 73,784 trainable parameters, the paper's ~73.8k (0.19's builder: 369,224).  But the
    read-out reads only the last block's scalars, so that block's other outputs, and whatever feeds
    only them, never reach the energy: 29,440 of those parameters get a zero gradient for ever.
    Built here is the rest (`live_irreps`; 44,344 parameters, the same function and training),
    which takes 0.41x the time per training step of the full layout on a CPU core;
    `full_layout=True` builds 0.5.6's layout as it was (tests count its parameters).
    """
    features = o3.Irreps([(num_features, (l, p)) for l in range(l_max + 1)
                          for p in ((1, -1) if parity else ((-1) ** l,))])
    outputs = [features] * num_layers if full_layout else \
        live_irreps(features, o3.Irreps.spherical_harmonics(l_max), num_layers)
    type_embed = NodeTypeEmbed(type_names=type_names, num_features=num_features)  # features (and attrs, replaced next)
    one_hot = NodeTypeEmbed(type_names=type_names, num_features=len(type_names), set_features=False,
                            irreps_in=type_embed.irreps_out)
    del one_hot.embed_module.weight  # a fixed one-hot: a buffer, never trained, frozen or counted
    one_hot.embed_module.register_buffer("weight", torch.eye(len(type_names)))
    spharm = SphericalHarmonicEdgeAttrs(irreps_edge_sh=o3.Irreps.spherical_harmonics(l_max),
                                        irreps_in=one_hot.irreps_out)
    edge_norm = EdgeLengthNormalizer(r_max=r_max, type_names=type_names, irreps_in=spharm.irreps_out)
    bessel_encode = BesselEdgeLengthEncoding(num_bessels=num_bessels, trainable=bessel_trainable,
                                             cutoff=PolynomialCutoff(polynomial_cutoff_p),
                                             edge_invariant_field=AtomicDataDict.EDGE_EMBEDDING_KEY,
                                             irreps_in=edge_norm.irreps_out)
    factor = ApplyFactor(in_field=AtomicDataDict.EDGE_EMBEDDING_KEY, factor=2 * math.pi / r_max ** 2,
                         irreps_in=bessel_encode.irreps_out)  # 0.5.6's Bessel prefactor, as 0.19's builder
    modules = {"type_embed": type_embed, "one_hot": one_hot, "spharm": spharm, "edge_norm": edge_norm,
               "bessel_encode": bessel_encode, "factor": factor}
    irreps = factor.irreps_out
    for layer in range(num_layers):
        block = ConvNetLayer(irreps_in=irreps, feature_irreps_hidden=outputs[layer], resnet=False, convolution_kwargs={
            "radial_mlp_depth": radial_mlp_depth, "radial_mlp_width": radial_mlp_width, "use_sc": True,
            "is_first_layer": layer == 0, "avg_num_neighbors": avg_num_neighbors, "type_names": type_names})
        modules[f"layer{layer}_convnet"] = block
        irreps = block.irreps_out
    hidden = AtomwiseLinear(irreps_in=irreps, irreps_out=o3.Irreps(f"{max(1, num_features // 2)}x0e"))
    readout = AtomwiseLinear(irreps_in=hidden.irreps_out, out_field=AtomicDataDict.PER_ATOM_ENERGY_KEY,
                             irreps_out=o3.Irreps("1x0e"))
    scale_shift = PerTypeScaleShift(
        type_names=type_names, field=AtomicDataDict.PER_ATOM_ENERGY_KEY, out_field=AtomicDataDict.PER_ATOM_ENERGY_KEY,
        scales=per_type_energy_scales, shifts=per_type_energy_shifts, scales_trainable=per_type_energy_scales_trainable,
        shifts_trainable=per_type_energy_shifts_trainable, irreps_in=readout.irreps_out)
    total = AtomwiseReduce(irreps_in=scale_shift.irreps_out, reduce="sum", field=AtomicDataDict.PER_ATOM_ENERGY_KEY,
                           out_field=AtomicDataDict.TOTAL_ENERGY_KEY)
    modules.update(conv_to_output_hidden=hidden, output_hidden_to_scalar=readout,
                   per_type_energy_scale_shift=scale_shift, total_energy_sum=total)
    return ForceStressOutput(SequentialGraphNetwork(modules))


@functools.lru_cache(maxsize=4)
def _parent(package_path: str, mtime_ns: int, size: int) -> tuple[float, float, dict]:
    """A package's r_max, average neighbour count and weights (read once per process and file
    version: `nequip-package` builds a fine-tuned model twice).  GraphModel keeps the network under
    `.model`, the inner builders return the bare network; the neighbour-count normalisation is not
    in a state dict (NequIP keeps it out), so a model built with another one keeps it."""
    parent = load_packaged_model(package_path)
    weights = {key.removeprefix("model."): value for key, value in parent.state_dict().items()
               if not key.endswith(R_MAX_BUFFER)}
    return float(parent.metadata["r_max"]), average_num_neighbors(parent), weights


@model_builder
@shared_while_packaging
def NequIPGNNModelFromPackage(package_path: str, architecture: str = DEFAULT_ARCHITECTURE,
                              avg_num_neighbors: float | None = None, **hyperparameters):
    """The `architecture` model of `hyperparameters` with every weight taken from the model in
    `package_path`, normalised by `avg_num_neighbors` (a fine-tune's: its own training set's;
    None: the parent's).

    `hyperparameters` must describe the parent's architecture (only r_max may differ); a mismatch
    shows up as a shape error or a missing weight and stops the run.
    """
    stat = Path(package_path).stat()
    parent_r_max, parent_neighbors, weights = _parent(str(package_path), stat.st_mtime_ns, stat.st_size)
    neighbors = parent_neighbors if avg_num_neighbors is None else float(avg_num_neighbors)
    model = get_method(ARCHITECTURES[architecture])(avg_num_neighbors=neighbors, **hyperparameters)
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if unexpected or any(not key.endswith(R_MAX_BUFFER) for key in missing):
        raise ValueError(f"{package_path}: its weights do not fit the requested architecture "
                         f"(missing {missing}, unexpected {unexpected})")
    new_r_max = float(hyperparameters["r_max"])
    print(f"fine-tuning {package_path}: r_max {parent_r_max:g} -> {new_r_max:g}, "
          f"average neighbour count {parent_neighbors:.3f} -> {neighbors:.3f}", flush=True)
    return model


OPENEQUIVARIANCE = [{"modifier": "enable_OpenEquivariance"}]


def openequivariance_usable() -> bool:
    """Whether NequIP's OpenEquivariance modifier can run here: a CUDA device and the package."""
    return torch.cuda.is_available() and importlib.util.find_spec("openequivariance") is not None


def with_kernel(kernel: str, model: dict):
    """The model `model` (a builder config) with its tensor products on `kernel`: `e3nn`,
    `openequivariance` (NequIP's fused GPU kernels; an error where they cannot run) or `auto`
    (openequivariance where usable, else e3nn).  The modifier is not persistent: the checkpoint's
    weights and the package are e3nn's whatever trained them, and the numbers are the same to float
    precision (bench: validation force RMSE equal to 7 digits after 3 epochs)."""
    from nequip.model import modify

    if kernel == "auto":
        kernel = "openequivariance" if openequivariance_usable() else "e3nn"
    elif kernel == "openequivariance" and not openequivariance_usable():
        raise RuntimeError("training.kernel: openequivariance needs a CUDA GPU and the openequivariance package "
                           "(pip install openequivariance); use kernel: auto to fall back to e3nn")
    print(f"[synpretrain] tensor-product kernel: {kernel}", flush=True)
    return modify(model, OPENEQUIVARIANCE if kernel == "openequivariance" else [])
