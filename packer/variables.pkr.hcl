# Variables of the image template (image.pkr.hcl). playbooks/bake.yml sets all of them (in a JSON var file); the
# defaults only make `packer validate` and a hand-run `packer build` possible. A template of your own (an image
# definition's `template`) gets the same var file: declare the variables it uses (copy this file).

variable "image_name" {
  type        = string
  default     = "base"
  description = "Name of the image (a key of the image definitions): images are tagged <image_repository>/<image_name>:<version>."
}

variable "changes" {
  type        = list(string)
  default     = ["LABEL org.opencontainers.image.title=base io.immutable-infra.name=base", "ENTRYPOINT [\"/usr/bin/env\"]", "CMD [\"bash\"]"]
  description = "Dockerfile-style instructions of the commit (LABEL, ENTRYPOINT, CMD, EXPOSE, ENV, USER, WORKDIR, STOPSIGNAL), computed by playbooks/bake.yml from the image's container settings."
}

variable "provision_playbook" {
  type        = string
  default     = ""
  description = "The provision play: the collection's playbooks/provision.yml (empty: the one next to this template's folder)."
}

variable "bake_play_vars" {
  type        = string
  default     = "{}"
  description = "JSON object of the provision play's own variables: the roles to apply and their names, the collection version, the project's source."
}

variable "ansible_config" {
  type        = string
  default     = ""
  description = "ansible.cfg of the bake's Ansible: the collection's (empty: the one next to this template's folder)."
}

variable "roles_path" {
  type        = string
  default     = ""
  description = "ANSIBLE_ROLES_PATH of the bake's Ansible: the project's roles, the user's roles path, the collection's roles."
}

variable "collections_path" {
  type        = string
  default     = ""
  description = "ANSIBLE_COLLECTIONS_PATH of the bake's Ansible: the user's collections path, where FQCN roles are found."
}

variable "image_repository" {
  type        = string
  default     = "immutable"
  description = "Repository prefix: images are tagged <image_repository>/<name>:<version>."
}

variable "version" {
  type        = string
  default     = "0.0.0-dev"
  description = "Semantic version of the image (validated by playbooks/bake.yml)."
}

variable "version_tag" {
  type        = string
  default     = "0.0.0-dev"
  description = "The version as a Docker tag: '+' of build metadata written as '_'."
}

variable "revision" {
  type        = string
  default     = "unknown"
  description = "Git commit of the project the image is baked from (unknown when it is not a git checkout)."
}

variable "created" {
  type        = string
  default     = "1970-01-01T00:00:00Z"
  description = "UTC build time, RFC 3339."
}

variable "source_url" {
  type        = string
  default     = "https://github.com/immutable-infra/immutable.infra"
  description = "Where the project's source lives (org.opencontainers.image.source): its git remote, or unknown."
}

variable "bake_key" {
  type        = string
  default     = "unset"
  description = "Hash over everything that goes into the image (computed by playbooks/bake.yml)."
}

variable "parent_image" {
  type        = string
  default     = "immutable-infra/debian:bookworm"
  description = "Image the bake starts from: the bootstrap OS image for base, the newest verified base for apps."
}

variable "bake_vars" {
  type        = string
  default     = "{}"
  description = "JSON object of role variables for this bake (the image's vars and any bake_vars given to bake.yml)."
}

variable "parent_bake_key" {
  type        = string
  default     = ""
  description = "Bake key of the parent image (empty for the bootstrap OS image); bake_guard accepts only its marker."
}

variable "packer_manifest" {
  type        = string
  default     = "packer-manifest.json"
  description = "Path of the Packer manifest that records every build."
}

variable "apt_cache_dir" {
  type        = string
  default     = ""
  description = "Host folder of a bake cache of apt's package lists and downloaded packages, mounted into the build container (never committed into the image); empty: no cache."
}

variable "ansible_python" {
  type        = string
  default     = "/usr/bin/python3"
  description = "Python interpreter inside the image, for the Ansible provisioner."
}

locals {
  # apt's lists and downloaded packages live in a host folder shared by the bakes (a child bake does not
  # download again what its parent just fetched); a mounted folder is not part of the committed image.
  apt_cache_volumes = var.apt_cache_dir == "" ? {} : {
    "${var.apt_cache_dir}/lists"    = "/var/lib/apt/lists"
    "${var.apt_cache_dir}/archives" = "/var/cache/apt/archives"
  }

  # Extra variables of the bake play (playbooks/provision.yml) and the docker connection into the build
  # container: no SSH proxy (use_proxy = false), Ansible talks to the container through the engine.
  bake_extra_vars = join(" ", [
    "ansible_connection=community.docker.docker",
    "ansible_user=root",
    "ansible_python_interpreter=${var.ansible_python}",
    "version=${var.version}",
    "revision=${var.revision}",
    "built=${var.created}",
    "bake_key=${var.bake_key}",
    "parent_image=${var.parent_image}",
    "bake_guard_parent_bake_key=${var.parent_bake_key}",
  ])

  provision_playbook = var.provision_playbook == "" ? "${path.root}/../playbooks/provision.yml" : var.provision_playbook

  ansible_env_vars = [
    "ANSIBLE_CONFIG=${var.ansible_config == "" ? "${path.root}/../ansible.cfg" : var.ansible_config}",
    "ANSIBLE_ROLES_PATH=${var.roles_path}",
    "ANSIBLE_COLLECTIONS_PATH=${var.collections_path}",
    "ANSIBLE_PIPELINING=true",
    "ANSIBLE_NOCOLOR=true",
  ]
}
