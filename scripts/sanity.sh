#!/usr/bin/env bash
# make sanity: ansible-test sanity on the plugins, with the local Python and no container.
# ansible-test wants the collection under a path ending in ansible_collections/NAMESPACE/NAME, so the tracked
# files (and new, not ignored ones) are copied to .state/sanity/ansible_collections/immutable/infra first.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST="$ROOT/.state/sanity/ansible_collections/immutable/infra"
PYVER=$("$ROOT/.venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# ansible-test keeps its per-test virtual environments and caches under $HOME/.ansible/test: keep them in .state.
export HOME="$ROOT/.state/ansible-test-home"
# ansible-test skips its shellcheck test with a warning when the program is missing: fail instead (make setup
# installs it).
command -v shellcheck >/dev/null 2>&1 || { echo "shellcheck is missing: run make setup" >&2; exit 1; }

rm -rf "$DEST" && mkdir -p "$DEST"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"
done | tar --null -T - -cf - | tar -C "$DEST" -xf -)
# ansible-test only looks at files git knows: give the copy a repository of its own.
(cd "$DEST" && git init -q && git add -A && git -c user.email=ci@localhost -c user.name=ci commit -qm sanity)

# Each sanity test's venv bootstraps pip with a get-pip script downloaded from a host that may be unreachable;
# ansible-test uses a cached copy when present. The stand-in installs pip with the standard library's ensurepip,
# then the exact packages ansible-test asked for (from PyPI).
pipver=$("$ROOT/.venv/bin/python" - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
class Python:
    version = None
print(get_venv_packages(Python())["pip"])
PY
)
standin="$HOME/.ansible/test/cache/get_pip_${pipver//./_}.py"
if [ ! -f "$standin" ]; then
  mkdir -p "$(dirname "$standin")"
  cat >"$standin" <<'PY'
"""Stand-in for get-pip.py (see scripts/sanity.sh): ensurepip, then pip install of the given arguments."""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
PY
fi

cd "$DEST"
exec "$ROOT/.venv/bin/ansible-test" sanity --python "$PYVER" --requirements --color "${@}"
