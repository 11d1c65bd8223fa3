#!/usr/bin/env bash
# For contributors: installs everything the tests need into a virtual environment, then runs lint, types and
# every test layer (pure, engines, wire, js, notebook, browser), printing the time each layer took.
# Usage (from anywhere): bash tests/run_all.sh [extra pytest args, e.g. -m pure]
#   RK_VENV=DIR   the virtual environment to make or reuse (default: .venv in the repository, as the README's
#                 first command makes it); .ci/run points it at a brand-new folder every run.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${RK_VENV:-.venv}"
started=$SECONDS
step() { printf '\n== %s (%ss so far)\n' "$1" $((SECONDS - started)); }

# Debian's Chromium drives the browser tests (Playwright never downloads a browser here);
# Node.js runs the JavaScript SDK against the embedded server.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium fonts-dejavu-core)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  step "apt-get install ${missing[*]}"
  if [ "$(id -u)" = "0" ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
  $apt_get update -qq
  DEBIAN_FRONTEND=noninteractive $apt_get install -y -qq "${missing[@]}" >/dev/null
fi

step "python packages from the lock into $venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
python="$venv/bin/python"
# Every version comes from tests/requirements.txt (hashes checked); realtime_kit itself goes in editable, built by
# the locked setuptools rather than whatever a build-isolation download would bring.
"$python" -m pip install -q --disable-pip-version-check --require-hashes -r tests/requirements.txt
"$python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .

step "npm packages of tests/js from package-lock.json"
npm ci --prefix tests/js --no-audit --no-fund --silent

step "ruff";  "$python" -m ruff check realtime_kit tests bench tools
step "mypy";  "$python" -m mypy
step "pytest"
"$python" -m pytest "$@"
printf '\nall done in %ss\n' $((SECONDS - started))
