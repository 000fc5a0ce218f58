#!/usr/bin/env bash
# Creates /work/venvs/all (or $1): the interpreter's torch plus NNI 3.0 and TF-MOT in one venv,
# so that `mbp-verify compare` can run the four bundled library adapters side by side.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-/work/venvs/all}"
python3 -m venv --system-site-packages "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "nni==3.0" \
    "tensorflow-cpu==2.21.*" "tf-keras==2.21.*" "tensorflow-model-optimization==0.8.1"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$here"
"$venv/bin/python" -c "import nni, torch, tensorflow as tf, tensorflow_model_optimization as m; print('nni', nni.__version__, 'torch', torch.__version__, 'tensorflow', tf.__version__, 'tfmot', m.__version__)"
