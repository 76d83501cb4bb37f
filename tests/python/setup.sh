#!/usr/bin/env bash
# Makes the Python venv the tests' foreign clients run in (grpcio, standardwebhooks), from
# PyPI, pinned by requirements.txt. Idempotent: a venv whose stamp matches the requirements
# is kept. Prints the venv's python.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${FENGHUO_PYENV:-$root/target/pyenv}"
stamp="$venv/.requirements"
# Test binaries run in parallel: one of them installs, the others wait for it.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [ -x "$venv/bin/python" ] && cmp -s "$here/requirements.txt" "$stamp"; then
  echo "$venv/bin/python"
  exit 0
fi
python3 -m venv --clear "$venv" >&2
"$venv/bin/pip" install --disable-pip-version-check -q -r "$here/requirements.txt" >&2
cp "$here/requirements.txt" "$stamp"
echo "$venv/bin/python"
