#!/usr/bin/env bash
# Refreshes the two locks from the .in files: requirements.txt (the README's first command) and
# tests/requirements.txt (everything the tests install, the same versions for what both share).
# Pins already in a lock are kept unless the .in files need another version; `--upgrade` moves them all.
# Usage: bash tools/lock.sh [--upgrade]
set -euo pipefail
cd "$(dirname "$0")/.."
# uv comes with the test lock, so `bash tests/run_all.sh` (or installing tests/requirements.txt) puts it in .venv.
uv=$(command -v .venv/bin/uv || command -v uv) || {
  echo "tools/lock.sh needs uv: install the test lock first (.venv/bin/pip install -r tests/requirements.txt)" >&2
  exit 1
}
uv_args=(--quiet --generate-hashes --universal --python-version 3.11)
"$uv" pip compile "${uv_args[@]}" "$@" --custom-compile-command "bash tools/lock.sh" \
  requirements.in -o requirements.txt
"$uv" pip compile "${uv_args[@]}" "$@" --custom-compile-command "bash tools/lock.sh" \
  -c requirements.txt tests/requirements.in -o tests/requirements.txt
