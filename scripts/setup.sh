#!/usr/bin/env bash
# make setup: everything immutable.infra needs on this machine, idempotent and quick when all is present.
#   1. .venv with the exact pins of requirements.txt (ansible-core, ansible, ansible-lint, molecule, pytest...)
#   2. this checkout linked as the immutable.infra collection under .state/collections (see ansible.cfg)
#   3. a container engine: the one `docker info` reaches, else Debian's docker.io started in the background
#   4. Packer: the one on PATH, else Debian's packer
#   5. the bootstrap OS image ($IMMUTABLE_OS_IMAGE), built locally with mmdebstrap when missing
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE="$ROOT/.state"
VENV="$ROOT/.venv"
PYTHON=${PYTHON:-python3}
OS_IMAGE=${IMMUTABLE_OS_IMAGE:-immutable-infra/debian:bookworm}
OS_SUITE=${IMMUTABLE_OS_SUITE:-bookworm}
APT_UPDATED=0

say() { printf '==> %s\n' "$*"; }
ok() { printf '    ok: %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }
is_debian_like() { [ -r /etc/os-release ] && grep -qiE '^(ID|ID_LIKE)=.*(debian|ubuntu)' /etc/os-release; }

apt_install() {
  # apt_install PACKAGE...: Debian packages, only when root on Debian/Ubuntu.
  if [ "$APT_UPDATED" -eq 0 ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >"$STATE/apt.log" 2>&1 \
    || { tail -n 30 "$STATE/apt.log" >&2; die "apt-get install $* failed (full log: $STATE/apt.log)"; }
}

mkdir -p "$STATE"

# 1. Python virtual environment ------------------------------------------------------------------------------
say "Python tools in $VENV"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "Python 3.11 or newer is needed as '$PYTHON' (set PYTHON=/path/to/python3.11)."
if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
  if is_root && is_debian_like; then apt_install python3-venv; else
    die "the Python venv module is missing: install python3-venv (sudo apt-get install python3-venv)."
  fi
fi
want=$(sha256sum <"$ROOT/requirements.txt" | cut -d' ' -f1)
have=$(cat "$VENV/.requirements.sha256" 2>/dev/null || true)
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
if [ "$want" != "$have" ]; then
  say "installing requirements.txt into $VENV (about a minute)"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$ROOT/requirements.txt"
  echo "$want" >"$VENV/.requirements.sha256"
else
  ok "requirements.txt already installed"
fi

# 2. This checkout as the immutable.infra collection ------------------------------------------------------------
link="$STATE/collections/ansible_collections/immutable/infra"
if [ "$(readlink "$link" 2>/dev/null)" != "../../../.." ]; then
  say "linking this checkout as immutable.infra ($link)"
  mkdir -p "$(dirname "$link")"
  ln -sfn ../../../.. "$link"
else
  ok "immutable.infra resolves to this checkout"
fi

# 3. Container engine ---------------------------------------------------------------------------------------
say "container engine"
if docker info >/dev/null 2>&1; then
  ok "docker engine $(docker info --format '{{.ServerVersion}}') reachable"
else
  if ! command -v dockerd >/dev/null 2>&1; then
    if is_root && is_debian_like; then apt_install docker.io; else
      die "no container engine: 'docker info' fails and dockerd is not installed. Install Docker
(Debian/Ubuntu: sudo apt-get install docker.io, then sudo systemctl start docker and add yourself to the docker
group) and run make setup again."
    fi
  fi
  command -v docker >/dev/null 2>&1 || die "the docker client is missing: install docker.io (or docker-ce-cli)."
  if is_root; then
    say "starting dockerd in the background (log: $STATE/dockerd.log)"
    nohup dockerd >"$STATE/dockerd.log" 2>&1 &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { tail -n 20 "$STATE/dockerd.log" >&2; die "dockerd did not come up in 60 s (log: $STATE/dockerd.log)"; }
    ok "docker engine $(docker info --format '{{.ServerVersion}}') started"
  else
    die "dockerd is installed but not reachable: start it (sudo systemctl start docker) and make sure you may
use it (sudo usermod -aG docker $USER, then log in again)."
  fi
fi

# 4. Packer -------------------------------------------------------------------------------------------------
say "Packer"
if ! command -v packer >/dev/null 2>&1; then
  if is_root && is_debian_like; then apt_install packer; else
    die "packer is missing: install it (Debian/Ubuntu: sudo apt-get install packer, or a release from
https://developer.hashicorp.com/packer/install plus 'packer plugins install' as the README shows)."
  fi
fi
ok "$(packer version | head -n 1)"

# 4b. shellcheck: ansible-test sanity only warns and skips its shellcheck test when the program is missing ----
say "shellcheck (for ansible-test sanity)"
if ! command -v shellcheck >/dev/null 2>&1; then
  if is_root && is_debian_like; then apt_install shellcheck; else
    die "shellcheck is missing: install it (Debian/Ubuntu: sudo apt-get install shellcheck); without it
ansible-test sanity skips its shellcheck test."
  fi
fi
ok "shellcheck $(shellcheck --version | sed -n 's/^version: //p')"

# 5. Bootstrap OS image -------------------------------------------------------------------------------------
say "bootstrap OS image $OS_IMAGE"
if docker image inspect "$OS_IMAGE" >/dev/null 2>&1; then
  ok "$OS_IMAGE present"
else
  if ! command -v mmdebstrap >/dev/null 2>&1; then
    if is_root && is_debian_like; then apt_install mmdebstrap; else
      die "mmdebstrap is needed to build $OS_IMAGE without a registry (sudo apt-get install mmdebstrap), or set
IMMUTABLE_OS_IMAGE to a Debian image with python3 that your engine already has."
    fi
  fi
  say "building $OS_IMAGE: minimal Debian $OS_SUITE with python3 from Debian's mirror (about 30 s)"
  tarball="$STATE/rootfs-$OS_SUITE.tar"
  mmdebstrap --quiet --variant=minbase --include=python3,ca-certificates "$OS_SUITE" "$tarball"
  docker import \
    --change 'CMD ["/bin/bash"]' \
    --change "LABEL org.opencontainers.image.title=debian-$OS_SUITE io.immutable-infra.bootstrap=true" \
    "$tarball" "$OS_IMAGE" >/dev/null
  rm -f "$tarball"
  ok "$OS_IMAGE built"
fi

say "setup complete"
