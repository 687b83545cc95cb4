#!/usr/bin/env bash
# Packs what a bare GPU machine lacks to run bench_training.py, for machines without internet (run it
# here, where PyPI is reachable; then carry the folder there and run tests/benchmarks/gpu_session.sh).
#
#   bash tests/benchmarks/gpu_wheels.sh [DIR]        # DIR: default .whl (git-ignored)
#
# Such a machine (an image with PyTorch, Lightning, e3nn, numpy/scipy/pandas/matplotlib, pyyaml, tqdm,
# ninja, pybind11, nvidia-ml-py) lacks NequIP's own stack: these wheels, for its Python (PYTHON_VERSION,
# default 3.12), at the versions install.sh put in .venv, so the GPU runs the code the tests ran.
# OpenEquivariance ships as source only and its build fetches LibTorch from the internet: its Python
# package is carried as source (DIR/src), and it compiles its kernels on the GPU machine at first import.
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=${1:-.whl}
PYTHON_VERSION=${PYTHON_VERSION:-3.12}
OPENEQUIVARIANCE=${OPENEQUIVARIANCE:-0.7.0}   # the version the docs/cost.md's H200 rows were measured with
PACKAGES=(nequip hydra-core omegaconf ase matscipy lmdb e3nn)

[ -x .venv/bin/python ] || { echo "gpu_wheels.sh: run install.sh first (the versions come from .venv)" >&2; exit 1; }
installed() {  # NAME -> NAME==VERSION as installed in .venv
  .venv/bin/python -c 'import sys, importlib.metadata as m; print(f"{sys.argv[1]}=={m.version(sys.argv[1])}")' "$1"
}
mkdir -p "$DIR/src"
pins=()
for name in "${PACKAGES[@]}"; do pins+=("$(installed "$name")"); done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PYTHON_VERSION" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux1_x86_64 -d "$DIR" "${pins[@]}"
# antlr4's runtime (hydra/omegaconf) is published as a source distribution only: a pure-Python wheel of it
python3 -m pip wheel -q --no-deps -w "$DIR" "$(installed antlr4-python3-runtime)"
python3 -m pip download -q --no-deps --no-binary=:all: -d "$DIR/src" "openequivariance==$OPENEQUIVARIANCE"
tar -xzf "$DIR/src/openequivariance-$OPENEQUIVARIANCE.tar.gz" -C "$DIR/src"
rm "$DIR/src/openequivariance-$OPENEQUIVARIANCE.tar.gz"
echo "gpu_wheels.sh: $DIR holds $(ls "$DIR"/*.whl | wc -l) wheels ($(du -sh "$DIR" | cut -f1)) and openequivariance $OPENEQUIVARIANCE's source"
