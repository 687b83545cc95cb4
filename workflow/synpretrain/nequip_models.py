"""NequIP model builders used as Hydra `_target_`s in the rendered `nequip-train` config.

`with_kernel` picks the tensor products' kernel where the training runs (`training.kernel`).
`NequIPGNNModelFromPackage` fine-tunes a packaged model at a different cut-off:

The paper's "unscaled" alchemical curve (Fig 5a) was pre-trained with r_max = 6 Angstrom on the
x1.5-scaled carbon structures and then fine-tuned on silicon with r_max = 4 Angstrom.  NequIP's
`ModelFromPackage` keeps the parent's cut-off, so `NequIPGNNModelFromPackage` builds a fresh
`NequIPGNNModel` (NequIP's own builder: its edge-length normaliser, Bessel prefactor and metadata all
follow the new r_max) and loads every weight of the packaged parent into it.  The parent's
average-neighbour normalisation is kept too, so the only change is the cut-off.  Used as a Hydra
`_target_` in the rendered `nequip-train` config; `nequip-package` rebuilds it the same way from the
checkpoint, and the packaged result holds only NequIP's own classes.
"""
from __future__ import annotations

import importlib.util
import math

import torch
from nequip.model import NequIPGNNModel, model_builder

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


@model_builder
def NequIPGNNModelFromPackage(package_path: str, **hyperparameters):
    """`NequIPGNNModel(**hyperparameters)` with every weight taken from the model in `package_path`.

    `hyperparameters` must describe the parent's architecture (only r_max may differ); a mismatch
    shows up as a shape error or a missing weight and stops the run.
    """
    parent = load_packaged_model(package_path)
    parent_r_max = float(parent.metadata["r_max"])
    model = NequIPGNNModel(avg_num_neighbors=average_num_neighbors(parent), **hyperparameters)
    # GraphModel keeps the network under `.model`; the inner builder returns the bare network.
    weights = {key.removeprefix("model."): value for key, value in parent.state_dict().items()
               if not key.endswith(R_MAX_BUFFER)}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if unexpected or any(not key.endswith(R_MAX_BUFFER) for key in missing):
        raise ValueError(f"{package_path}: its weights do not fit the requested architecture "
                         f"(missing {missing}, unexpected {unexpected})")
    new_r_max = float(hyperparameters["r_max"])
    if not math.isclose(parent_r_max, new_r_max):
        print(f"fine-tuning {package_path} (r_max {parent_r_max:g}) at r_max {new_r_max:g}", flush=True)
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
