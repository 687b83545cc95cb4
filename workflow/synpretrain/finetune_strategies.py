"""Fine-tuning strategies against forgetting (`strategies:` of the config, docs/strategies.md).

- `all`:    every weight trained (the paper).
- `freeze`: the type embedding, the radial basis and the first `frozen_layers` interaction blocks
            keep the parent's weights.  Done where NequIP builds the optimiser: the rendered config's
            `optimizer.param_groups` is `frozen_param_groups`, which switches those parameters'
            gradients off and hands the optimiser only the rest; Adam never touches a parameter
            it was not given, and the EMA of a constant is that constant, so a frozen weight ends
            bit-identical to the parent's (tested).
- `replay`: every epoch also sees `fraction` of the parent's pre-training structures (a fresh
            random subset each epoch, `ReplaySampler`), labelled by the synthetic source.  Their
            energy zero is not the real data's (in the demo CHGNet's and GAP-17's differ by eV/atom),
            so they are force-only: `ForcesOnly` sets their energy label to NaN and the loss masks
            NaN energies (`ignore_nan`, with an energy MSE that is zero for a batch without any
            real structure).  Forces carry the shape of the synthetic potential energy surface,
            which is what pre-training taught; the energy zero is learnt from the real data alone.
"""
from __future__ import annotations

import re

import torch
from nequip.data import AtomicDataDict
from nequip.train.metrics import MeanSquaredError

def frozen_names(names, frozen_layers: int) -> list[str]:
    """The parameter names `freeze` keeps fixed: the type embedding, the (trainable) Bessel basis
    and interaction blocks 0 .. frozen_layers-1 (NequIP 0.19's module names)."""
    pattern = re.compile(r"(^|\.)(type_embed|bessel_encode|layer(\d+)_convnet)\.")

    def frozen(name: str) -> bool:
        match = pattern.search(name)
        return bool(match) and (match.group(3) is None or int(match.group(3)) < frozen_layers)

    return [name for name in names if frozen(name)]


def frozen_param_groups(model: torch.nn.Module, frozen_layers: int):
    """NequIP `param_groups` factory: freeze (see module doc) and return the parameters left to train."""
    parameters = dict(model.named_parameters())
    frozen = set(frozen_names(parameters, frozen_layers))
    if not frozen:
        raise ValueError("strategy freeze: no parameter matched the embedding or the interaction blocks")
    for name, parameter in parameters.items():
        parameter.requires_grad_(name not in frozen)
    trainable = [p for name, p in parameters.items() if name not in frozen]
    print(f"[synpretrain] freeze: {len(frozen)} parameter tensors frozen "
          f"({sum(parameters[n].numel() for n in frozen)} weights), "
          f"{sum(p.numel() for p in trainable)} weights trained", flush=True)
    return trainable


class ForcesOnly(torch.utils.data.Dataset):
    """A NequIP dataset whose energy labels are NaN: its structures teach forces only."""

    def __init__(self, dataset: torch.utils.data.Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        data = dict(self.dataset[index])
        data[AtomicDataDict.TOTAL_ENERGY_KEY] = torch.full_like(data[AtomicDataDict.TOTAL_ENERGY_KEY], float("nan"))
        return data


class ReplaySampler(torch.utils.data.Sampler):
    """Indices into ConcatDataset([real, replay pool]): every real structure once per epoch plus
    `per_epoch` structures of the pool, a fresh random subset each epoch, all shuffled together.
    Epoch e draws from a generator seeded by (seed, e), so a run is reproducible."""

    def __init__(self, n_real: int, n_pool: int, per_epoch: int, seed: int):
        if not 0 <= per_epoch <= n_pool:
            raise ValueError(f"replay: {per_epoch} structures per epoch from a pool of {n_pool}")
        self.n_real, self.n_pool, self.per_epoch, self.seed = n_real, n_pool, per_epoch, seed
        self.epoch = 0

    def __len__(self) -> int:
        return self.n_real + self.per_epoch

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        self.epoch += 1
        replayed = self.n_real + torch.randperm(self.n_pool, generator=generator)[: self.per_epoch]
        order = torch.cat([torch.arange(self.n_real), replayed])
        return iter(order[torch.randperm(len(order), generator=generator)].tolist())


class MaskedMeanSquaredError(MeanSquaredError):
    """NequIP's MSE, but 0 (not NaN) for a batch whose labels were all masked out (`ignore_nan`):
    a batch of replayed structures only has no energy term, not a NaN loss."""

    def compute(self) -> torch.Tensor:
        return torch.where(self.count > 0, self.sum / self.count.clamp(min=1), torch.zeros_like(self.sum))
