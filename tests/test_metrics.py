import math

import numpy as np
import pytest

from synpretrain.metrics import force_component_rmse, mean_std, per_atom_energy_rmse_mev


def test_per_atom_energy_rmse_by_hand():
    # errors per atom: (1.0-0.0)/2 = 0.5 eV, (-3.0-0.0)/3 = -1.0 eV -> rmse sqrt((0.25+1)/2) eV
    value = per_atom_energy_rmse_mev([1.0, -3.0], [0.0, 0.0], [2, 3])
    assert value == pytest.approx(math.sqrt(0.625) * 1000)


def test_energy_rmse_has_no_offset_removed():
    # a constant per-atom offset is an error, not something to subtract
    assert per_atom_energy_rmse_mev([2.0, 4.0], [0.0, 0.0], [2, 4]) == pytest.approx(1000.0)


def test_force_rmse_over_all_components_of_all_atoms():
    pred = [np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 0.0, 0.0], [0.0, 2.0, 0.0]])]
    true = [np.zeros((1, 3)), np.zeros((2, 3))]
    # squared errors 1 and 4 over 9 components
    assert force_component_rmse(pred, true) == pytest.approx(math.sqrt(5 / 9))


def test_mismatched_inputs_are_rejected():
    with pytest.raises(ValueError):
        per_atom_energy_rmse_mev([1.0], [1.0, 2.0], [1, 1])
    with pytest.raises(ValueError):
        force_component_rmse([np.zeros((2, 3))], [np.zeros((1, 3))])


def test_mean_std_uses_sample_std():
    mean, std = mean_std([1.0, 2.0, 3.0])
    assert mean == 2.0 and std == pytest.approx(1.0)
    assert math.isnan(mean_std([5.0])[1])
