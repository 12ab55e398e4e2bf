# Sourced by scripts/test and scripts/demo: make .venv and install the project
# (with the extras named in $BALLOTCHAIN_EXTRAS) on a machine that has only
# Python >= 3.11 and pip. Re-installs only when pyproject.toml changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || { echo "Ballotchain needs Python >= 3.11 (found $("$PY" --version))" >&2; exit 1; }
  "$PY" -m venv .venv
fi
extras="${BALLOTCHAIN_EXTRAS:-test}"
stamp=".venv/.ballotchain-installed-$(sha256sum pyproject.toml | cut -c1-16)-${extras//,/_}"
if [ ! -f "$stamp" ]; then
  echo "setting up .venv (extras: $extras)..." >&2
  .venv/bin/python -m pip install -q --upgrade pip >&2
  .venv/bin/python -m pip install -q -e ".[$extras]" >&2
  touch "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
