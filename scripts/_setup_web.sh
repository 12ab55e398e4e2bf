#!/usr/bin/env bash
# Set up the voting page (web/): its npm packages from web/package-lock.json and,
# with --browser, Debian's chromium for the browser tests. Called by scripts/test
# (with --browser) and scripts/demo. Re-installs npm packages only when the lock
# file changes; installs chromium only if /usr/bin/chromium is missing.
# (`npx playwright install` downloads a browser build and cannot work here: the
# tests drive Debian's chromium through playwright-core instead.)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  echo "installing Debian packages: $*..." >&2
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >&2
  as_root apt-get install -y -qq "$@" >&2
}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt_install nodejs npm
fi

stamp="web/node_modules/.ballotchain-installed-$(sha256sum web/package-lock.json | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "installing the voting page's npm packages..." >&2
  (cd web && npm ci --no-audit --no-fund --loglevel=error) >&2
  touch "$stamp"
fi

# The registrar tests' OpenID Connect provider (the certified oidc-provider package), test only.
stamp="tests/oidc/node_modules/.ballotchain-installed-$(sha256sum tests/oidc/package-lock.json | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "installing the test OpenID Connect provider's npm packages..." >&2
  (cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error) >&2
  touch "$stamp"
fi

if [ "${1:-}" = "--browser" ]; then
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  # Japanese glyphs for the screenshots (and for a person looking at them)
  [ -d /usr/share/fonts/opentype/noto ] || missing+=(fonts-noto-cjk)
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
fi
