#!/usr/bin/env bash
# Creates /work/venvs/nni (or $1): NNI 3.0 with mbp-verify installed editable from this
# checkout, for the `nni` adapter and its tests. The venv sees the interpreter's own
# packages (--system-site-packages) so that NNI uses the torch already installed there.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-/work/venvs/nni}"
python3 -m venv --system-site-packages "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "nni==3.0"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$here"
"$venv/bin/python" -c "import nni, torch; print('nni', nni.__version__, 'torch', torch.__version__)"
