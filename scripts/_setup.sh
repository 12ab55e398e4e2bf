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
# The speech extra reads English with espeak-ng, a system package: install it where
# we may (root, apt, no terminal to ask on), otherwise say how.
if [[ ",$extras," == *,speech,* ]] && ! command -v espeak-ng >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing espeak-ng (English speech)..." >&2
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng; } >&2 \
      || echo "speech engine espeak-ng could not be installed: install with apt-get install espeak-ng" >&2
  else
    echo "speech engine espeak-ng is missing: install with sudo apt-get install espeak-ng" >&2
  fi
fi
export PATH="$ROOT/.venv/bin:$PATH"
