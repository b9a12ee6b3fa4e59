#!/usr/bin/env bash
# make molecule (after the collection's scenarios): the example project's Molecule scenario, run as a team runs it,
# from a copy of examples/project outside this checkout with immutable.infra linked into its ./collections (the
# place `ansible-galaxy collection install -r collections/requirements.yml -p collections` puts it).
# Outside a git checkout Molecule finds no .config/molecule/config.yml: the scenario must stand on its own.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/immutable-example.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cp -a "$ROOT/examples/project" "$WORK/project"
mkdir -p "$WORK/project/collections/ansible_collections/immutable"
ln -s "$ROOT" "$WORK/project/collections/ansible_collections/immutable/infra"
cd "$WORK/project"
# The project's own ansible.cfg and ./collections only (make exports the checkout's on PYTHONPATH).
unset ANSIBLE_CONFIG PYTHONPATH ANSIBLE_COLLECTIONS_PATH
exec "$ROOT/.venv/bin/molecule" test -s "${1:-hello}"
