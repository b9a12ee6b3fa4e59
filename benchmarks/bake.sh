#!/usr/bin/env bash
# Bake benchmark: a cold bake of web (base baked first), web alone on a cached base, and a cache hit.
#   bash benchmarks/bake.sh            (after make setup; uses its own repository 'bench', removed at the end)
# Prints a Markdown table for the README. Goals: cache hit <= 3 s; web on a cached base well under half the cold time.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
REPO=bench
# Its own apt cache, emptied first: the cold bake downloads every list and package, as on a new machine.
APT_CACHE="$ROOT/.state/bench-apt-cache"

clean() {
  remove_repository_images "$REPO"
  rm -rf "$APT_CACHE"
}

bake() {  # bake IMAGE VERSION -> seconds
  local start
  start=$(now)
  ansible-playbook playbooks/bake.yml -e image="$1" -e version="$2" -e image_repository=$REPO \
    -e bake_apt_cache_dir="$APT_CACHE" >"$ROOT/.state/bench-bake.log" 2>&1 \
    || { tail -n 30 "$ROOT/.state/bench-bake.log" >&2; exit 1; }
  elapsed "$start"
}

clean
trap clean EXIT
cold=$(bake web 1.0.0)
warm=$(bake web 1.0.1)
hit=$(bake web 1.0.1)

echo "| bake | seconds |"
echo "| --- | ---: |"
printf '| cold: web 1.0.0 including base | %.1f |\n' "$cold"
printf '| web 1.0.1 on the cached base | %.1f (%s%% of cold) |\n' "$warm" "$(python3 -c "import sys; print(round(100 * float(sys.argv[1]) / float(sys.argv[2])))" "$warm" "$cold")"
printf '| cache hit: web 1.0.1 again | %.1f |\n' "$hit"
echo
echo "machine: $(nproc) cores, $(docker info --format '{{.ServerVersion}}') engine, $(packer version | head -n1)"
