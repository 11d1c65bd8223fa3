#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine, then runs lint, types and every test layer.
# Usage (from anywhere): bash tests/run_all.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's Chromium drives the browser tests (Playwright never downloads a browser here);
# Node.js runs the JavaScript SDK against the embedded server.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium fonts-dejavu-core)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
  $apt_get update -qq
  DEBIAN_FRONTEND=noninteractive $apt_get install -y -qq "${missing[@]}" >/dev/null
fi

python3 -m pip install -q -r tests/requirements.txt
npm ci --prefix tests/js --no-audit --no-fund --silent

echo "== ruff";  python3 -m ruff check realtime_kit tests bench
echo "== mypy";  python3 -m mypy
echo "== pytest"
python3 -m pytest "$@"
