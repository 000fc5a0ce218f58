#!/usr/bin/env bash
# Runs the TF-MOT and NNI adapters through their marked tests and `mbp-verify check-pruner`,
# each in its own venv (create them with install_tfmot_venv.sh and install_nni_venv.sh).
# Reports go to reports/ of the current directory; the exit code is the worst one.
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
status=0
run() {  # venv, marker, target
    local py="$1/bin/python"
    [ -x "$py" ] || { echo "skipping $2: $1 does not exist" >&2; return; }
    (cd "$here" && "$py" -m pytest tests/adapters -m "$2" -q -n 0 -p no:cacheprovider) || status=1
    "$py" -m mbp_verify check-pruner "$3" --workers "${WORKERS:-1}" || status=$(( $? > status ? $? : status ))
}
run "${TFMOT_VENV:-/work/venvs/tfmot}" tfmot mbp_verify.adapters.tfmot:PruneLowMagnitude
run "${NNI_VENV:-/work/venvs/nni}" nni mbp_verify.adapters.nni:LevelPruner
exit "$status"
