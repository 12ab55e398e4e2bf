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
# System packages the extras need, installed where we may (root, apt, no terminal to ask
# on), otherwise named: libdecaf0 (tally sums), espeak-ng (English speech), a Japanese font (voting letters, the
# --plot chart), poppler-utils and zbar-tools (the tests read voting letters back).
apt_missing=()
# libdecaf: tally sums held decoded (ballot_tx/crypto/point_sums.py; libsodium is the fallback)
ldconfig -p 2>/dev/null | grep -q 'libdecaf\.so\.0' || apt_missing+=(libdecaf0)
if [[ ",$extras," == *,speech,* ]] && ! command -v espeak-ng >/dev/null 2>&1; then apt_missing+=(espeak-ng); fi
if [[ ",$extras," == *,letters,* || ",$extras," == *,plot,* ]] && [ ! -d /usr/share/fonts/opentype/noto ]; then
  apt_missing+=(fonts-noto-cjk)
fi
if [[ ",$extras," == *,test,* && ",$extras," == *,letters,* ]]; then
  command -v pdftoppm >/dev/null 2>&1 || apt_missing+=(poppler-utils)
  command -v zbarimg >/dev/null 2>&1 || apt_missing+=(zbar-tools)
fi
if [ ${#apt_missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${apt_missing[*]}..." >&2
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}"; } >&2 \
      || echo "could not install ${apt_missing[*]}: install with apt-get install ${apt_missing[*]}" >&2
  else
    echo "missing system packages: install with sudo apt-get install ${apt_missing[*]}" >&2
  fi
fi
# Deployment tests (tests/deploy/) use promtool (Debian's prometheus package) to check the
# shipped alert rules, nginx to check the reverse-proxy example, and iproute2 for the
# network-namespace test: install them where we may, otherwise say how.
if [[ ",$extras," == *,test,* ]]; then
  missing=()
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing+=(iproute2)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing ${missing[*]} (deployment tests)..." >&2
      { DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2 \
        || echo "could not install ${missing[*]}: tests/deploy will skip what needs them" >&2
    else
      echo "${missing[*]} missing: sudo apt-get install ${missing[*]} (tests/deploy skips without them)" >&2
    fi
  fi
fi
export PATH="$ROOT/.venv/bin:$PATH"
