#!/usr/bin/env bash
# make demo, the main job: bake lb, web 1.0.0 and web 1.1.0; bring the web fleet (3 instances behind
# 127.0.0.1:8080) up at 1.0.0; roll it to 1.1.0 while a probe counts failed requests; print the fleet table and
# the probe's count. Safe to run again: bakes are cache hits, and the fleet is first brought back to 1.0.0.
# The demo keeps its images in a repository of its own (demo/*). When the collection changed since the last run,
# its versions cannot be rebaked with other content (a version is never reused), so the demo resets its own
# fleet and images first.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
STATE="$ROOT/.state/demo"
mkdir -p "$STATE"
REPO=demo
play() { echo "+ ansible-playbook $* -e image_repository=$REPO"; ansible-playbook "$@" -e image_repository=$REPO; }

reset_demo() {
  echo "==> the collection changed since the last demo: removing the demo fleet and the $REPO/* images"
  ansible-playbook playbooks/rollout.yml -e fleet=web -e state=absent -e image_repository=$REPO >/dev/null
  remove_repository_images "$REPO"
}

bake_all() {
  play playbooks/bake.yml -e image=lb -e version=1.0.0 &&
    play playbooks/bake.yml -e image=web -e version=1.0.0 &&
    play playbooks/bake.yml -e image=web -e version=1.1.0
}

echo "==> 1. bake the images (cache hits when nothing changed)"
if ! bake_all | tee "$STATE/bake.log"; then
  # Only a refused version reuse is recovered from; any other failure stops the demo.
  grep -q "never reused" "$STATE/bake.log" || exit 1
  reset_demo
  bake_all
fi

echo "==> 2. the web fleet at 1.0.0: 3 instances behind 127.0.0.1:8080"
play playbooks/rollout.yml -e fleet=web -e version=1.0.0

echo "==> 3. roll the fleet to 1.1.0 while a probe sends requests to 127.0.0.1:8080"
rm -f "$STATE/probe.stop" "$STATE/probe.json"
python3 scripts/probe.py --url http://127.0.0.1:8080/version --duration 600 --stop-file "$STATE/probe.stop" \
  --out "$STATE/probe.json" >/dev/null &
probe=$!
trap 'touch "$STATE/probe.stop"; wait $probe 2>/dev/null || true' EXIT
sleep 2
play playbooks/rollout.yml -e fleet=web -e version=1.1.0
sleep 2
touch "$STATE/probe.stop"
wait $probe
trap - EXIT

echo "==> 4. the fleet now"
play playbooks/status.yml -e fleet=web
python3 - "$STATE/probe.json" <<'PY'
import json
import sys

summary = json.load(open(sys.argv[1]))
print('probe: %(requests)d requests to %(url)s in %(seconds)s s, %(failed)d failed' % summary)
print('probe: versions served, in order: %s' % ' -> '.join(summary['versions']))
if summary['reasons']:
    print('probe: failures: %s' % summary['reasons'])
sys.exit(1 if summary['failed'] else 0)
PY
