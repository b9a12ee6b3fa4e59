# immutable-swarm/registry: the test bed's image registry (scripts/swarm.sh), Debian's docker-registry package.
ARG BASE=immutable-infra/debian:bookworm
FROM ${BASE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/docker-registry && chown docker-registry: /var/lib/docker-registry
COPY registry.yml /etc/docker/registry/config.yml
USER docker-registry
VOLUME /var/lib/docker-registry
EXPOSE 5000
CMD ["/usr/bin/docker-registry", "serve", "/etc/docker/registry/config.yml"]
