#!/usr/bin/env bash
# Entry point of immutable-swarm/node (scripts/swarm.sh): make the container fit to run dockerd without
# --privileged, forward the registry onto this node's loopback, then run dockerd as the container's main process.
# Settings come from the environment scripts/swarm.sh passes: SWARM_NODE_BIP, SWARM_NODE_POOL,
# SWARM_REGISTRY_IP, SWARM_REGISTRY_PORT.
set -euo pipefail

say() { printf 'node-entrypoint: %s\n' "$*" >&2; }
: "${SWARM_NODE_BIP:?}" "${SWARM_NODE_POOL:?}" "${SWARM_REGISTRY_IP:?}" "${SWARM_REGISTRY_PORT:?}"

# /sys and the cgroup hierarchies come read-only without --privileged; a plain remount of a cgroup says "busy".
mount -o remount,rw /sys || say "could not remount /sys read-write"
mount -o remount,rw /sys/fs/cgroup 2>/dev/null || true
awk '$2 ~ "^/sys/fs/cgroup/" { print $2 }' /proc/mounts | while read -r hierarchy; do
  mount -o remount,bind,rw "$hierarchy" || say "could not remount $hierarchy read-write"
done

# What a previous run of this container left behind: a restarted node otherwise hangs on
# "timeout waiting for containerd".
rm -rf /var/run/docker.pid /var/run/docker.sock /var/run/docker /run/containerd

mkdir -p /etc/docker
cat >/etc/docker/daemon.json <<JSON
{
  "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"],
  "tls": false,
  "storage-driver": "overlay2",
  "bip": "${SWARM_NODE_BIP}",
  "default-address-pools": [{"base": "${SWARM_NODE_POOL}", "size": 24}],
  "insecure-registries": ["127.0.0.1:${SWARM_REGISTRY_PORT}", "immutable-swarm-registry:5000",
                          "${SWARM_REGISTRY_IP}:5000"],
  "log-driver": "json-file",
  "log-opts": {"max-size": "10m", "max-file": "2"}
}
JSON

# The host pushes 127.0.0.1:PORT/...; the same name pulled here reaches the registry through this forward.
socat "TCP-LISTEN:${SWARM_REGISTRY_PORT},bind=127.0.0.1,fork,reuseaddr" "TCP:${SWARM_REGISTRY_IP}:5000" &

exec dockerd
