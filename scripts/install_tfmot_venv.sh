#!/usr/bin/env bash
# Creates /work/venvs/tfmot (or $1): TensorFlow CPU, tf-keras and TF-MOT, with mbp-verify
# installed editable from this checkout, for the `tfmot` adapter and its tests.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-/work/venvs/tfmot}"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "tensorflow-cpu==2.21.*" "tf-keras==2.21.*" "tensorflow-model-optimization==0.8.1"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$here"
"$venv/bin/python" -c "import tensorflow_model_optimization as m, tensorflow as tf; print('tfmot', m.__version__, 'tensorflow', tf.__version__)"
