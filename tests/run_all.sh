#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine, then runs lint, types and every test layer.
# Usage (from anywhere): bash tests/run_all.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's Chromium drives the browser tests (Playwright never downloads a browser here).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
  $apt_get update -qq
  DEBIAN_FRONTEND=noninteractive $apt_get install -y -qq chromium fonts-dejavu-core >/dev/null
fi

python3 -m pip install -q -r tests/requirements.txt

echo "== ruff";  python3 -m ruff check realtime_kit tests bench
echo "== mypy";  python3 -m mypy
echo "== pytest"
python3 -m pytest "$@"
