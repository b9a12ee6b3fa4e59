#!/usr/bin/env bash
# make swarm-up / swarm-down / swarm-status: a multi-node Docker Swarm test bed on this machine's engine.
#   scripts/swarm.sh up            build what is missing or changed, start what is stopped, init/join the swarm
#   scripts/swarm.sh down          remove the bed's containers, volumes and network (images stay)
#   scripts/swarm.sh down --images the same, and the bed's images too
#   scripts/swarm.sh status        what runs; exit status 0 only when the bed is up and every node Ready
# Every node is a container (immutable-swarm/node, from the bootstrap OS image and Debian's docker.io) running
# its own dockerd; the registry (immutable-swarm/registry, Debian's docker-registry) is published on 127.0.0.1.
# Nothing here runs a swarm command against the host's engine: every `swarm` and `node` command goes to a node's
# own API (node_docker), so the host engine's swarm state stays what it was.
# Settings (environment):
#   SWARM_MANAGERS=1       managers m1..mN (1 or 3 for a quorum; at most 9)
#   SWARM_WORKERS=2        workers w1..wN (at most 9)
#   SWARM_REGISTRY_PORT=5005  the registry on 127.0.0.1:PORT, pushed to from the host, pulled by the nodes
#   SWARM_API_PORT=2385    manager mK's API on 127.0.0.1:(PORT+K-1); worker wK's on 127.0.0.1:(PORT+10+K-1)
#   SWARM_SUBNET=172.31.240.0/24  the bed's bridge network (.2 the registry, .11.. managers, .21.. workers)
#   IMMUTABLE_OS_IMAGE=immutable-infra/debian:bookworm  the bootstrap OS image the bed's images are built from
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONTEXT="$ROOT/scripts/swarm"
LOG_DIR="$ROOT/.state/swarm"
OS_IMAGE=${IMMUTABLE_OS_IMAGE:-immutable-infra/debian:bookworm}
MANAGERS=${SWARM_MANAGERS:-1}
WORKERS=${SWARM_WORKERS:-2}
REGISTRY_PORT=${SWARM_REGISTRY_PORT:-5005}
API_PORT=${SWARM_API_PORT:-2385}
SUBNET=${SWARM_SUBNET:-172.31.240.0/24}
PREFIX=immutable-swarm
NETWORK=$PREFIX
REGISTRY=$PREFIX-registry
NODE_IMAGE=$PREFIX/node
REGISTRY_IMAGE=$PREFIX/registry
LABEL=io.immutable-swarm
# Inside each node: its own docker0 and local networks, and the swarm's overlay networks (all node-internal).
OVERLAY_POOL=10.253.0.0/16
WAIT=${SWARM_WAIT:-60}

say() { printf '==> %s\n' "$*"; }
ok() { printf '    ok: %s\n' "$*"; }
die() { printf 'swarm: %s\n' "$*" >&2; exit 1; }

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print('%.1f' % (float(sys.argv[1]) - float(sys.argv[2])))" "$(now)" "$1"; }

# The bed's layout -------------------------------------------------------------------------------------------
case "$MANAGERS" in [1-9]) ;; *) die "SWARM_MANAGERS=$MANAGERS: give 1 to 9 (3 for a quorum)." ;; esac
case "$WORKERS" in [0-9]) ;; *) die "SWARM_WORKERS=$WORKERS: give 0 to 9." ;; esac
net_prefix=$(python3 - "$SUBNET" <<'PY'
import ipaddress, sys
try:
    net = ipaddress.ip_network(sys.argv[1])
except ValueError as exc:
    sys.exit('%s' % exc)
if net.version != 4 or net.prefixlen > 24:
    sys.exit('%s: give an IPv4 network of /24 or larger' % net)
print(str(net.network_address).rsplit('.', 1)[0])
PY
) || die "SWARM_SUBNET=$SUBNET is not usable (see above)."
REGISTRY_IP="$net_prefix.2"

NODES=()
for i in $(seq 1 "$MANAGERS"); do NODES+=("m$i"); done
for i in $(seq 1 "$WORKERS"); do NODES+=("w$i"); done
MANAGER=$PREFIX-m1

# node_index NODE: 1.. for managers, 11.. for workers (the last octet's and the API port's offset).
node_index() { case "$1" in m*) echo "${1#m}" ;; w*) echo $((10 + ${1#w})) ;; esac; }
node_ip() { echo "$net_prefix.$((10 + $(node_index "$1")))"; }
node_port() { echo $((API_PORT + $(node_index "$1") - 1)); }
# node_docker NODE ARGS...: the docker CLI against that node's own engine, never the host's.
node_docker() { local port; port=$(node_port "$1"); shift; docker -H "tcp://127.0.0.1:$port" "$@"; }

# Images: built only when missing or when their inputs (files and the bootstrap OS image) changed -----------------
inputs_hash() {
  # inputs_hash FILE...: sha256 of the files and the bootstrap OS image's id.
  { docker image inspect --format '{{.Id}}' "$OS_IMAGE"; cat "$@"; } | sha256sum | cut -d' ' -f1
}

ensure_image() {
  # ensure_image IMAGE DOCKERFILE FILE...
  local image=$1 dockerfile=$2 want have
  shift 2
  want=$(inputs_hash "$CONTEXT/$dockerfile" "$@")
  have=$(docker image inspect --format "{{index .Config.Labels \"$LABEL.inputs\"}}" "$image" 2>/dev/null || true)
  if [ "$want" = "$have" ]; then
    ok "$image up to date"
    return
  fi
  say "building $image from $OS_IMAGE and Debian's packages (about 20 s; log: $LOG_DIR/build-${image#*/}.log)"
  docker build --build-arg "BASE=$OS_IMAGE" --label "$LABEL.inputs=$want" --label "$LABEL.bed=1" \
    -t "$image" -f "$CONTEXT/$dockerfile" "$CONTEXT" >"$LOG_DIR/build-${image#*/}.log" 2>&1 \
    || { tail -n 30 "$LOG_DIR/build-${image#*/}.log" >&2; die "building $image failed (log: $LOG_DIR/build-${image#*/}.log)"; }
  ok "$image built"
}

# The network: a fixed subnet that no other network or route of the host uses --------------------------------------
ensure_network() {
  local have
  if have=$(docker network inspect --format '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "$NETWORK" 2>/dev/null); then
    [ "$have" = "$SUBNET" ] || die "network $NETWORK exists with subnet $have, not $SUBNET: run 'scripts/swarm.sh down' (or set SWARM_SUBNET=$have)."
    ok "network $NETWORK ($SUBNET)"
    return
  fi
  local taken
  taken=$(
    for n in $(docker network ls -q); do
      docker network inspect --format '{{.Name}}{{range .IPAM.Config}} {{.Subnet}}{{end}}' "$n"
    done
    if command -v ip >/dev/null 2>&1; then
      ip -4 route show | awk '$1 ~ /\// { print "a-host-route " $1 }'
    fi
  )
  local clash
  clash=$(python3 - "$SUBNET" "$taken" <<'PY'
import ipaddress, sys
ours = ipaddress.ip_network(sys.argv[1])
for line in sys.argv[2].splitlines():
    name, *subnets = line.split()
    for subnet in subnets:
        try:
            theirs = ipaddress.ip_network(subnet, strict=False)
        except ValueError:
            continue
        if theirs.version == 4 and ours.overlaps(theirs):
            print('network %s (%s)' % (name, theirs) if name != 'a-host-route' else 'a host route (%s)' % theirs)
PY
  )
  [ -z "$clash" ] || die "subnet $SUBNET overlaps what this host already uses: $(echo "$clash" | sed ':a;N;s/\n/, /;ba').
Choose a free one: SWARM_SUBNET=10.X.Y.0/24 make swarm-up."
  docker network create --driver bridge --subnet "$SUBNET" --label "$LABEL.bed=1" "$NETWORK" >/dev/null
  ok "network $NETWORK ($SUBNET) created"
}

# Containers: created with a label holding the hash of their settings; other settings mean a new bed ------------------
container_state() {
  local state
  if state=$(docker container inspect --format '{{.State.Status}}' "$1" 2>/dev/null); then echo "$state"; else echo missing; fi
}
container_config() { docker container inspect --format "{{index .Config.Labels \"$LABEL.config\"}}" "$1" 2>/dev/null || true; }

registry_args() {
  printf '%s\n' --name "$REGISTRY" --hostname "$REGISTRY" --network "$NETWORK" --ip "$REGISTRY_IP" \
    -p "127.0.0.1:$REGISTRY_PORT:5000" -v "$REGISTRY:/var/lib/docker-registry" \
    --label "$LABEL.bed=1" "$REGISTRY_IMAGE"
}

node_args() {
  local node=$1 name=$PREFIX-$1 index
  index=$(node_index "$node")
  printf '%s\n' --name "$name" --hostname "$name" --network "$NETWORK" --ip "$(node_ip "$node")" \
    --add-host "$REGISTRY:$REGISTRY_IP" \
    --cap-add ALL --cap-drop SYS_RESOURCE \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined --security-opt systempaths=unconfined \
    --device-cgroup-rule 'a *:* rwm' \
    -p "127.0.0.1:$(node_port "$node"):2375" -v "$name:/var/lib/docker" \
    -e "SWARM_NODE_BIP=10.251.$index.1/24" -e "SWARM_NODE_POOL=10.252.$((index * 4)).0/22" \
    -e "SWARM_REGISTRY_IP=$REGISTRY_IP" -e "SWARM_REGISTRY_PORT=$REGISTRY_PORT" \
    --label "$LABEL.bed=1" "$NODE_IMAGE"
}

container_args() {
  # container_args NAME: the `docker run` arguments of the registry or a node, one a line.
  if [ "$1" = "$REGISTRY" ]; then registry_args; else node_args "${1#"$PREFIX"-}"; fi
}

config_hash() {
  # config_hash IMAGE ARGS...: what a container of the bed is made of.
  { docker image inspect --format '{{.Id}}' "$1"; shift; printf '%s\n' "$@"; } | sha256sum | cut -d' ' -f1
}

ensure_container() {
  # ensure_container NAME ARGS...: created when missing, started when stopped; prints created, started or running.
  local name=$1 state want
  shift
  want=$(config_hash "${@: -1}" "$@")
  state=$(container_state "$name")
  case "$state" in
    running) echo running ;;
    missing)
      docker volume create --label "$LABEL.bed=1" "$name" >/dev/null
      docker run -d --label "$LABEL.config=$want" "$@" >/dev/null || die "could not start $name (see above)"
      echo created ;;
    *) docker start "$name" >/dev/null || die "could not start $name (state $state; see: docker logs $name)"
      echo started ;;
  esac
}

wait_for() {
  # wait_for WHAT COMMAND...: COMMAND succeeds within $WAIT seconds, else fail naming WHAT.
  local what=$1 deadline
  shift
  deadline=$((SECONDS + WAIT))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.3
  done
  ok "$what"
}

registry_answers() { python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$REGISTRY_PORT/v2/', timeout=2)"; }
engine_answers() { node_docker "$1" version --format '{{.Server.Version}}'; }

# The swarm: m1 initialises it, every other node joins through its own API ------------------------------------------
swarm_state() { node_docker "$1" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || echo unreachable; }
swarm_node_id() { node_docker "$1" info --format '{{.Swarm.NodeID}}'; }
is_manager() { [ "$(node_docker "$1" info --format '{{.Swarm.ControlAvailable}}')" = true ]; }

ensure_swarm() {
  local state members token role
  state=$(swarm_state m1)
  if [ "$state" != active ] || ! is_manager m1; then
    [ "$state" = inactive ] || node_docker m1 swarm leave --force >/dev/null 2>&1 || true
    node_docker m1 swarm init --advertise-addr "$(node_ip m1)" \
      --default-addr-pool "$OVERLAY_POOL" --default-addr-pool-mask-length 24 >/dev/null \
      || die "docker swarm init on $MANAGER failed (see: docker logs $MANAGER)"
    ok "swarm initialised on $MANAGER ($(node_ip m1))"
  fi
  members=$(node_docker m1 node ls -q)
  for node in "${NODES[@]:1}"; do
    state=$(swarm_state "$node")
    if [ "$state" = active ] && grep -qx "$(swarm_node_id "$node")" <<<"$members"; then
      if [ "${node:0:1}" = m ] && ! is_manager "$node"; then
        node_docker m1 node promote "$(swarm_node_id "$node")" >/dev/null
        ok "$PREFIX-$node promoted to manager"
      fi
      continue
    fi
    # A node of another swarm (say, m1 was made anew): leave it, then join this one.
    [ "$state" = inactive ] || node_docker "$node" swarm leave --force >/dev/null 2>&1 || true
    role=worker
    [ "${node:0:1}" = w ] || role=manager
    token=$(node_docker m1 swarm join-token -q "$role")
    node_docker "$node" swarm join --advertise-addr "$(node_ip "$node")" --token "$token" "$(node_ip m1):2377" >/dev/null \
      || die "$PREFIX-$node could not join the swarm as a $role (see: docker logs $PREFIX-$node)"
    ok "$PREFIX-$node joined as a $role"
  done
  # Nodes the swarm still lists but that are none of ours any more (a node made anew joins with a new id, a
  # smaller SWARM_WORKERS leaves some out).
  local ours stale
  ours=$(for node in "${NODES[@]}"; do swarm_node_id "$node"; done)
  stale=$(node_docker m1 node ls -q | grep -vxF "$ours" || true)
  for id in $stale; do
    node_docker m1 node demote "$id" >/dev/null 2>&1 || true
    node_docker m1 node rm --force "$id" >/dev/null || die "could not remove node $id from the swarm: make swarm-down, then make swarm-up"
    ok "stale node $id removed"
  done
}

nodes_ready() {
  # nodes_ready: the manager lists exactly our nodes, each Ready.
  local listed
  listed=$(node_docker m1 node ls --format '{{.Hostname}} {{.Status}}' | sort)
  [ "$listed" = "$(for node in "${NODES[@]}"; do echo "$PREFIX-$node Ready"; done | sort)" ]
}

# up / down / status ---------------------------------------------------------------------------------------------
up() {
  local start changes=() result
  start=$(now)
  mkdir -p "$LOG_DIR"
  docker info >/dev/null 2>&1 || die "no container engine: 'docker info' fails (run make setup)."
  docker image inspect "$OS_IMAGE" >/dev/null 2>&1 \
    || die "the bootstrap OS image $OS_IMAGE is missing: run make setup (it builds it)."
  say "Swarm test bed: $MANAGERS manager(s), $WORKERS worker(s), registry 127.0.0.1:$REGISTRY_PORT"
  ensure_image "$NODE_IMAGE" node.Dockerfile "$CONTEXT/node-entrypoint.sh"
  ensure_image "$REGISTRY_IMAGE" registry.Dockerfile "$CONTEXT/registry.yml"

  # A container made from other images or settings (SWARM_* variables) than these, or other managers (removing
  # managers loses the raft quorum): the bed is made anew.
  local name managers_now
  managers_now=$(docker ps -a --filter "label=$LABEL.bed=1" --format '{{.Names}}' | grep -c "^$PREFIX-m" || true)
  if [ "$managers_now" -gt 0 ] && [ "$managers_now" -ne "$MANAGERS" ]; then
    say "the bed has $managers_now manager(s), SWARM_MANAGERS=$MANAGERS: making the bed anew"
    down
  fi
  for name in "$REGISTRY" "${NODES[@]/#/$PREFIX-}"; do
    mapfile -t args < <(container_args "$name")
    if [ "$(container_state "$name")" != missing ] && [ "$(container_config "$name")" != "$(config_hash "${args[@]: -1}" "${args[@]}")" ]; then
      say "$name was made from other images or settings: making the bed anew"
      down
      break
    fi
  done
  ensure_network
  for name in "$REGISTRY" "${NODES[@]/#/$PREFIX-}"; do
    mapfile -t args < <(container_args "$name")
    result=$(ensure_container "$name" "${args[@]}")
    [ "$result" = running ] || changes+=("$name $result")
  done
  # Containers of an earlier layout (say SWARM_WORKERS was larger) that this one does not have.
  for name in $(docker ps -a --filter "label=$LABEL.bed=1" --format '{{.Names}}'); do
    [ "$name" = "$REGISTRY" ] && continue
    printf '%s\n' "${NODES[@]/#/$PREFIX-}" | grep -qx "$name" && continue
    docker rm -f "$name" >/dev/null
    docker volume rm "$name" >/dev/null 2>&1 || true
    changes+=("$name removed")
  done
  if [ "${#changes[@]}" -gt 0 ]; then printf '    %s\n' "${changes[@]}"; fi

  wait_for "registry answers on 127.0.0.1:$REGISTRY_PORT" registry_answers \
    || die "the registry did not answer on 127.0.0.1:$REGISTRY_PORT within ${WAIT}s (see: docker logs $REGISTRY)"
  for node in "${NODES[@]}"; do
    wait_for "$PREFIX-$node engine on 127.0.0.1:$(node_port "$node")" engine_answers "$node" \
      || die "the engine of $PREFIX-$node did not answer on 127.0.0.1:$(node_port "$node") within ${WAIT}s (see: docker logs $PREFIX-$node)"
  done
  ensure_swarm
  wait_for "every node Ready" nodes_ready || {
    node_docker m1 node ls >&2 || true
    die "not every node of the swarm was Ready within ${WAIT}s (listed above; see docker logs $PREFIX-NODE)"
  }
  say "Swarm test bed up in $(elapsed "$start") s: DOCKER_HOST=tcp://127.0.0.1:$(node_port m1) docker node ls"
}

down() {
  local images=${1:-} names volumes
  say "removing the Swarm test bed"
  names=$(docker ps -a --filter "label=$LABEL.bed=1" --format '{{.Names}}')
  # shellcheck disable=SC2086  # names are docker names: no spaces
  [ -z "$names" ] || docker rm -f $names >/dev/null
  volumes=$(docker volume ls -q --filter "label=$LABEL.bed=1")
  # shellcheck disable=SC2086
  [ -z "$volumes" ] || docker volume rm $volumes >/dev/null
  if docker network inspect "$NETWORK" >/dev/null 2>&1; then docker network rm "$NETWORK" >/dev/null; fi
  ok "containers, volumes and network removed"
  if [ "$images" = --images ]; then
    for image in "$NODE_IMAGE" "$REGISTRY_IMAGE"; do
      if docker image inspect "$image" >/dev/null 2>&1; then docker rmi "$image" >/dev/null; fi
    done
    ok "images removed"
  fi
}

status() {
  local healthy=0 node
  printf '%-26s %s\n' CONTAINER STATE
  for name in "$REGISTRY" "${NODES[@]/#/$PREFIX-}"; do
    printf '%-26s %s\n' "$name" "$(container_state "$name")"
    [ "$(container_state "$name")" = running ] || healthy=1
  done
  if [ "$healthy" -eq 0 ] && engine_answers m1 >/dev/null 2>&1; then
    echo
    node_docker m1 node ls
    nodes_ready || healthy=1
    registry_answers 2>/dev/null || { echo "registry does not answer on 127.0.0.1:$REGISTRY_PORT"; healthy=1; }
  else
    healthy=1
  fi
  echo
  echo "registry: 127.0.0.1:$REGISTRY_PORT   manager: DOCKER_HOST=tcp://127.0.0.1:$(node_port m1)"
  for node in "${NODES[@]}"; do printf '  %s: tcp://127.0.0.1:%s (%s)\n' "$PREFIX-$node" "$(node_port "$node")" "$(node_ip "$node")"; done
  if [ "$healthy" -eq 0 ]; then echo "the bed is up"; else echo "the bed is not up: make swarm-up"; fi
  return "$healthy"
}

case "${1:-}" in
  up) up ;;
  down)
    case "${2:-}" in ''|--images) down "${2:-}" ;; *) die "usage: scripts/swarm.sh down [--images]" ;; esac ;;
  status) status ;;
  *) die "usage: scripts/swarm.sh up | down [--images] | status" ;;
esac
