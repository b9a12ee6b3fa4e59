#!/usr/bin/env bash
# Rollout benchmark: a 10-instance web fleet rolled from 1.0.0 to 1.1.0 with `rolling` (max surge 2; with the
# default health rule, 2 healthy answers, and with Swarm's, 1) and with `blue_green`, and, in the same run,
# Docker Swarm's `docker service update` (start-first, parallelism 2, the same health check) on the same two
# images, each with a probe counting failed requests through its load balancer.
#   bash benchmarks/rollout.sh     (after make setup; bakes web 1.0.0/1.1.0 and lb 1.0.0 into its own repository 'bench')
# Prints a Markdown table for the README. Goal: 0 failed requests, and faster than Swarm.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
STATE="$ROOT/.state/bench-rollout"
mkdir -p "$STATE"
REPO=bench
FLEETS=(-e @benchmarks/fleets.yml -e "image_repository=$REPO")
SWARM_STARTED=0

quiet_play() { ansible-playbook "$@" >"$STATE/play.log" 2>&1 || { tail -n 40 "$STATE/play.log" >&2; exit 1; }; }

probe_start() {  # probe_start URL
  rm -f "$STATE/probe.stop" "$STATE/probe.json"
  python3 scripts/probe.py --url "$1" --duration 900 --stop-file "$STATE/probe.stop" --out "$STATE/probe.json" >/dev/null &
  PROBE=$!
  sleep 2
}
probe_stop() {  # sets PROBED=failed/requests; runs in this shell (a $(...) subshell cannot wait for the probe)
  sleep 2
  touch "$STATE/probe.stop"
  wait "$PROBE"
  PROBED=$(python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print('%d/%d' % (s['failed'], s['requests']))" \
    "$STATE/probe.json")
}

cleanup() {
  touch "$STATE/probe.stop" 2>/dev/null || true
  docker service rm bench-swarm >/dev/null 2>&1 || true
  docker rm -f bench-swarm-lb >/dev/null 2>&1 || true
  docker network rm bench-swarm-net >/dev/null 2>&1 || true
  if [ "$SWARM_STARTED" -eq 1 ]; then
    docker swarm leave --force >/dev/null 2>&1 || true
    docker network rm docker_gwbridge >/dev/null 2>&1 || true
  fi
  ansible-playbook playbooks/rollout.yml "${FLEETS[@]}" -e fleet=bench -e state=absent >/dev/null 2>&1 || true
  remove_repository_images "$REPO"
}
trap cleanup EXIT
cleanup

echo "baking web 1.0.0, web 1.1.0, lb 1.0.0 (cache hits when present)" >&2
for spec in "web 1.0.0" "web 1.1.0" "lb 1.0.0"; do
  read -r -a args <<<"$spec"
  set -- "${args[@]}"
  quiet_play playbooks/bake.yml -e image="$1" -e version="$2" -e image_repository=$REPO
done
OLD=$(docker image inspect -f '{{.Id}}' $REPO/web:verified-1.0.0)
NEW=$(docker image inspect -f '{{.Id}}' $REPO/web:verified-1.1.0)
LB=$(docker image inspect -f '{{.Id}}' $REPO/lb:verified-1.0.0)

# immutable.infra: rolling with the fleet's health check (2 healthy answers 1 s apart), rolling with Swarm's
# rule (healthy after 1 answer), then blue_green; each from 1.0.0 to 1.1.0 (the reset to 1.0.0 is not timed).
declare -A TIME FAILED
VARIANTS=(rolling rolling_1 blue_green)
declare -A ARGS=(
  [rolling]="-e rollout_strategy=rolling"
  [rolling_1]="-e rollout_strategy=rolling -e healthy_threshold=1"
  [blue_green]="-e rollout_strategy=blue_green"
)
for variant in "${VARIANTS[@]}"; do
  echo "immutable.infra $variant: fleet at 1.0.0" >&2
  quiet_play playbooks/rollout.yml "${FLEETS[@]}" -e fleet=bench -e version=1.0.0 -e rollout_strategy=rolling -e max_surge=10
  probe_start http://127.0.0.1:18280/version
  start=$(now)
  # shellcheck disable=SC2086 # ARGS holds several words
  quiet_play playbooks/rollout.yml "${FLEETS[@]}" -e fleet=bench -e version=1.1.0 ${ARGS[$variant]}
  TIME[$variant]=$(elapsed "$start")
  probe_stop
  FAILED[$variant]=$PROBED
done
quiet_play playbooks/rollout.yml "${FLEETS[@]}" -e fleet=bench -e state=absent

# Docker Swarm: the same images, 10 replicas, start-first, parallelism 2, the same health check.
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != "active" ]; then
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null
  SWARM_STARTED=1
fi
docker network create --driver overlay --attachable bench-swarm-net >/dev/null
health='python3 -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen(\"http://127.0.0.1:8080/healthz\", timeout=2).status == 200 else 1)"'
docker service create --quiet --name bench-swarm --replicas 10 --network bench-swarm-net --endpoint-mode dnsrr \
  --health-cmd "$health" --health-interval 1s --health-timeout 2s --health-retries 2 --health-start-period 30s \
  --update-order start-first --update-parallelism 2 --update-delay 0s --update-failure-action rollback \
  --stop-signal SIGQUIT "$OLD" >/dev/null
# HAProxy itself, with the benchmark's configuration only (the lb image's entry point would add the fleet's).
docker run -d --name bench-swarm-lb --network bench-swarm-net -p 127.0.0.1:18380:8080 \
  -v "$ROOT/benchmarks/swarm-haproxy.cfg:/etc/haproxy/bench.cfg:ro" --entrypoint /usr/sbin/haproxy \
  "$LB" -W -db -f /etc/haproxy/bench.cfg >/dev/null
for _ in $(seq 1 60); do
  up=$(docker service ls --filter name=bench-swarm --format '{{.Replicas}}')
  [ "$up" = "10/10" ] && break
  sleep 1
done
sleep 5
# The peer must serve before it is measured: a Swarm side that answers nothing is a broken benchmark, not a figure.
python3 - <<'PY' || { echo "the Swarm service does not answer on 127.0.0.1:18380 through its HAProxy" >&2; exit 1; }
import sys, time, urllib.request
deadline = time.monotonic() + 30
while True:
    try:
        with urllib.request.urlopen('http://127.0.0.1:18380/version', timeout=2) as response:
            sys.exit(0 if response.status == 200 else 1)
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(1)
        time.sleep(0.5)
PY
probe_start http://127.0.0.1:18380/version
start=$(now)
docker service update --quiet --image "$NEW" bench-swarm >/dev/null
TIME[swarm]=$(elapsed "$start")
probe_stop
FAILED[swarm]=$PROBED

echo "| rollout of 10 instances, 1.0.0 -> 1.1.0 | wall time (s) | failed / requests | time vs Swarm |"
echo "| --- | ---: | ---: | ---: |"
for what in "${VARIANTS[@]}" swarm; do
  case $what in
    rolling) label="immutable.infra rolling (max surge 2; healthy after 2 answers 1 s apart, the default)" ;;
    rolling_1) label="immutable.infra rolling (max surge 2; healthy after 1 answer, as Swarm)" ;;
    blue_green) label="immutable.infra blue_green" ;;
    swarm) label="Docker Swarm service update (start-first, parallelism 2; healthy after 1 answer)" ;;
  esac
  ratio=$(python3 -c "import sys; print('%.2f' % (float(sys.argv[1]) / float(sys.argv[2])))" "${TIME[$what]}" "${TIME[swarm]}")
  echo "| $label | ${TIME[$what]} | ${FAILED[$what]} | $ratio |"
done
echo
echo "machine: $(nproc) cores, Docker $(docker info --format '{{.ServerVersion}}')"
