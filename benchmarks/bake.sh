#!/usr/bin/env bash
# Bake benchmark: a cold bake of web (base baked first), web alone on a cached base and a cache hit; then the
# example project's image hello, baked by FQCN from a temporary copy of examples/project with the collection
# installed from a freshly built tarball (warm: on the base just baked), side by side with the same role applied
# by a bare `packer build` (docker source from the same verified base, ansible provisioner over the docker
# connection, commit and tag: no bake key, no seal, no image tests).
#   bash benchmarks/bake.sh            (after make setup; uses its own repository 'bench', removed at the end)
# Prints a Markdown table for the README. Goals: cache hit <= 3 s; web on a cached base well under half the cold
# time; the project's bake of hello at most 1.5x the bare packer build.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
REPO=bench
# Its own apt cache, emptied first: the cold bake downloads every list and package, as on a new machine.
APT_CACHE="$ROOT/.state/bench-apt-cache"
LOG="$ROOT/.state/bench-bake.log"
# The temporary project, the collection tarball and the bare Packer template.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-bake.XXXXXX")
PROJECT="$WORK/project"

clean() {
  local image filters=()
  # Containers of the benchmark's images (a bake interrupted midway), then the images.
  while read -r image; do filters+=(--filter "ancestor=$image"); done \
    < <(docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$REPO/" || true)
  if [ ${#filters[@]} -gt 0 ]; then
    docker ps -aq "${filters[@]}" | xargs -r docker rm -f >/dev/null 2>&1 || true
  fi
  remove_repository_images "$REPO"
  rm -rf "$APT_CACHE" "$WORK"
}

run() {  # run COMMAND... -> seconds; its output goes to $LOG, the end of it to stderr when it fails
  local start
  start=$(now)
  "$@" >"$LOG" 2>&1 || { tail -n 30 "$LOG" >&2; exit 1; }
  elapsed "$start"
}

bake() {  # bake IMAGE VERSION: the checkout's playbooks/bake.yml
  ansible-playbook playbooks/bake.yml -e image="$1" -e version="$2" -e image_repository=$REPO \
    -e bake_apt_cache_dir="$APT_CACHE"
}

project_bake() {  # project_bake VERSION: hello by FQCN from the project, with the project's own ansible.cfg
  (cd "$PROJECT" && env -u ANSIBLE_CONFIG -u PYTHONPATH ansible-playbook -i inventory immutable.infra.bake -e image=hello \
    -e version="$1" -e image_repository=$REPO)
}

bare_bake() {  # bare_bake PARENT VERSION: the hello role by a bare packer build
  packer build -color=false -var parent="$1" -var version="$2" \
    -var parent_bake_key="$(docker image inspect -f '{{index .Config.Labels "io.immutable-infra.bake-key"}}' "$1")" \
    "$WORK/bare/hello.pkr.hcl"
}

make_project() {  # the collection built into a tarball and installed into a copy of examples/project
  env -u ANSIBLE_CONFIG -u PYTHONPATH ansible-galaxy collection build --output-path "$WORK/dist" "$ROOT" >/dev/null
  cp -a "$ROOT/examples/project" "$PROJECT"
  (cd "$PROJECT" && env -u ANSIBLE_CONFIG -u PYTHONPATH ansible-galaxy collection install --no-deps \
    "$WORK"/dist/immutable-infra-*.tar.gz -p collections >/dev/null)
}

make_bare_template() {  # the minimal template and play of the bare build (Packer 1.6.6 and 1.10+)
  mkdir -p "$WORK/bare"
  cat >"$WORK/bare/hello.yml" <<'PLAY'
---
- name: Apply the hello role
  hosts: all
  gather_facts: false
  roles:
    - hello
PLAY
  cat >"$WORK/bare/hello.pkr.hcl" <<HCL
variable "parent" {
  type = string
}

variable "version" {
  type = string
}

# The sealed base carries its marker: the role's dependency bake_guard accepts it only with its bake key.
variable "parent_bake_key" {
  type = string
}

source "docker" "hello" {
  image  = var.parent
  pull   = false
  commit = true
}

build {
  sources = ["source.docker.hello"]

  provisioner "ansible" {
    playbook_file    = "$WORK/bare/hello.yml"
    use_proxy        = false
    ansible_env_vars = ["ANSIBLE_CONFIG=$PROJECT/ansible.cfg"]
    extra_arguments  = ["--extra-vars", "ansible_connection=community.docker.docker ansible_host=\${build.ID} ansible_user=root ansible_python_interpreter=/usr/bin/python3 image=hello version=\${var.version} hello_port=8081 bake_guard_parent_bake_key=\${var.parent_bake_key}"]
  }

  post-processor "docker-tag" {
    repository = "$REPO/hello-bare"
    tags       = [var.version]
  }
}
HCL
}

clean
trap clean EXIT
cold=$(run bake web 1.0.0)
warm=$(run bake web 1.0.1)
hit=$(run bake web 1.0.1)

make_project
make_bare_template
project=$(run project_bake 1.0.0)
grep -Eq 'base [^ ]+: skip' "$LOG" || { echo "the project's bake of hello baked base again: not a warm bake" >&2; exit 1; }
parent=$(docker image inspect -f '{{index .Config.Labels "io.immutable-infra.parent"}}' "$REPO/hello:verified-1.0.0")
bare=$(run bare_bake "$parent" 1.0.0)

percent() { python3 -c "import sys; print(round(100 * float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }
echo "| bake | seconds |"
echo "| --- | ---: |"
printf '| cold: web 1.0.0 including base | %.1f |\n' "$cold"
printf '| web 1.0.1 on the cached base | %.1f (%s%% of cold) |\n' "$warm" "$(percent "$warm" "$cold")"
printf '| cache hit: web 1.0.1 again | %.1f |\n' "$hit"
printf '| project: hello 1.0.0 by FQCN on the cached base | %.1f |\n' "$project"
printf '| bare packer build of the hello role on the same base | %.1f |\n' "$bare"
printf '| ratio project / bare | %sx |\n' "$(python3 -c "import sys; print('%.2f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$project" "$bare")"
echo
echo "machine: $(nproc) cores, $(docker info --format '{{.ServerVersion}}') engine, $(packer version | head -n1)"
