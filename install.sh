#!/usr/bin/env bash
# One-command set-up on a fresh Debian machine with Python 3.11:
#   apt packages (OpenKIM API + models), a virtual environment in .venv with the pinned
#   stack of envs/requirements.txt, and this repository's library (editable).
# Idempotent: a stamp records what was installed; a second run with nothing changed returns at once.
set -euo pipefail
cd "$(dirname "$0")"
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

APT_PACKAGES=(libkim-api-dev libkim-api2 openkim-models pkg-config libopenmpi-dev poppler-utils)
stamp="$VENV/.install-stamp"
want=$(cat envs/requirements.txt envs/constraints.txt pyproject.toml install.sh | sha256sum | cut -d' ' -f1)

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "install.sh: $VENV is up to date (delete $stamp to force a reinstall)"
  exit 0
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install.sh: apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check -q -c envs/constraints.txt)
"$VENV/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip wheel setuptools
# torch first, from its pin, so that no dependency can pull a CUDA build.
"${PIP[@]}" torch==2.13.0
"${PIP[@]}" -r envs/requirements.txt
"${PIP[@]}" --no-deps -e .
echo "$want" > "$stamp"
echo "install.sh: done. Activate with: source $VENV/bin/activate"
