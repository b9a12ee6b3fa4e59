# shellcheck shell=bash
# Shared by scripts/demo.sh and benchmarks/*.sh, sourced after `set -euo pipefail`: run from the checkout's root
# with its venv and ansible.cfg, plus the small helpers they all need.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
export PATH="$ROOT/.venv/bin:$PATH" ANSIBLE_CONFIG="$ROOT/ansible.cfg"

# now: a timestamp for elapsed; elapsed START: seconds since START, one decimal.
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print('%.1f' % (float(sys.argv[1]) - float(sys.argv[2])))" "$(now)" "$1"; }

# remove_repository_images REPO: every image tagged REPO/* (a demo's or a benchmark's own repository).
remove_repository_images() {
  docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$1/" | xargs -r docker rmi -f >/dev/null 2>&1 || true
}
