"""Synthetic pre-training of NequIP interatomic potentials."""
import os


def share_with_jobs(library: str) -> None:
    """Put `library` (the folder holding this package) on every job's PYTHONPATH: local, conda
    (`--sdm conda`: its environments do not install the package) and SLURM jobs then import the
    same copy of the code as the Snakefile."""
    paths = [library] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != library]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
