#!/bin/sh
# Smoke test of python@3.11, run as dev in a sandbox where the pack is installed:
#   ssh aibox sh -s < packs/python-3.11/smoke.sh
# Offline: creates a venv and installs a wheel it builds itself.
set -eu
expect() { # WHAT PATTERN VALUE
  case "$3" in $2) echo "ok: $1 $3" ;; *) echo "FAIL: $1 is '$3', expected $2" >&2; exit 1 ;; esac
}
expect python 'Python 3.11.2' "$(python3 --version)"
prefix=$(python3 -c 'import sys; print(sys.prefix)')
expect 'python runs from the pack' '/opt/toolpacks/python*' "$prefix"
expect 'sys.path is only the pack' 'ok' "$(python3 -c 'import sys; print("ok" if all(p.startswith(sys.prefix) for p in sys.path if p) else sys.path)')"
expect 'extension modules' 'ok' "$(python3 -c 'import ssl, sqlite3, readline, decimal, ctypes, lzma, bz2, uuid; print("ok")')"
expect pip "pip 23.0.1 from $prefix/*" "$(python3 -m pip --version)"
expect 'pip wrapper' 'pip 23.0.1 *' "$(pip --version)"
dir=$(mktemp -d)
python3 -m venv "$dir/venv"
mkdir -p "$dir/src/hello_pack"
printf 'def greet():\n    return "hello from a local wheel"\n' > "$dir/src/hello_pack/__init__.py"
printf '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n[project]\nname = "hello-pack"\nversion = "1.0"\n' > "$dir/src/pyproject.toml"
# The pack's own setuptools (and wheel) build the wheel.
python3 -m pip wheel --no-index --no-build-isolation --no-deps -w "$dir/dist" "$dir/src" >/dev/null
"$dir/venv/bin/pip" install --no-index "$dir"/dist/hello_pack-1.0-*.whl >/dev/null
expect 'venv + local wheel' 'hello from a local wheel' "$("$dir/venv/bin/python" -c 'import hello_pack; print(hello_pack.greet())')"
rm -rf "$dir"
