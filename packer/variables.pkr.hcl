# Variables shared by every image template in this folder. playbooks/bake.yml sets all of them; the defaults
# only make `packer validate` and a hand-run `packer build` possible.

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
  description = "Git commit of the immutable.infra checkout the image is baked from."
}

variable "created" {
  type        = string
  default     = "1970-01-01T00:00:00Z"
  description = "UTC build time, RFC 3339."
}

variable "source_url" {
  type        = string
  default     = "https://github.com/immutable-infra/immutable.infra"
  description = "Where the image's source lives (org.opencontainers.image.source)."
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

  # Labels every image carries; the catalog reads them (docs/architecture.md).
  common_labels = join(" ", [
    "org.opencontainers.image.version=${var.version}",
    "org.opencontainers.image.revision=${var.revision}",
    "org.opencontainers.image.created=${var.created}",
    "org.opencontainers.image.source=${var.source_url}",
    "io.immutable-infra.version=${var.version}",
    "io.immutable-infra.bake-key=${var.bake_key}",
    "io.immutable-infra.parent=${var.parent_image}",
    # docker commit keeps the build container's labels: blank the build marker so that containers of the
    # image are never taken for leftovers of an interrupted bake.
    "io.immutable-infra.bake=\"\"",
  ])

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

  ansible_env_vars = [
    "ANSIBLE_CONFIG=${path.root}/../ansible.cfg",
    "ANSIBLE_PIPELINING=true",
    "ANSIBLE_NOCOLOR=true",
  ]
}
