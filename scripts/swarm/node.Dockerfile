# immutable-swarm/node: one Swarm node of the test bed (scripts/swarm.sh), a container running its own dockerd.
# Built from the bootstrap OS image (make setup) and Debian's packages only.
ARG BASE=immutable-infra/debian:bookworm
FROM ${BASE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      docker.io containerd runc iptables iproute2 socat tini ca-certificates procps \
 && rm -rf /var/lib/apt/lists/*
COPY node-entrypoint.sh /usr/local/bin/node-entrypoint
VOLUME /var/lib/docker
EXPOSE 2375 2377 7946 4789/udp
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/node-entrypoint"]
