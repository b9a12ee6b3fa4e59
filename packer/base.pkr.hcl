# base: the layer every application image starts from (roles: base, then image_seal).

source "docker" "base" {
  image       = var.parent_image
  pull        = false
  commit      = true
  volumes     = local.apt_cache_volumes
  run_command = ["-d", "-i", "-t", "--label", "io.immutable-infra.bake=${var.image_repository}/base", "--entrypoint=/bin/sh", "--", "{{.Image}}"]
  changes = [
    "LABEL org.opencontainers.image.title=base io.immutable-infra.name=base ${local.common_labels}",
    "ENTRYPOINT [\"/usr/bin/env\"]",
    "CMD [\"bash\"]",
  ]
}

build {
  sources = ["source.docker.base"]

  provisioner "ansible" {
    playbook_file    = "${path.root}/../playbooks/provision.yml"
    use_proxy        = false
    ansible_env_vars = local.ansible_env_vars
    extra_arguments  = ["--extra-vars", "image=base ansible_host=${build.ID} ${local.bake_extra_vars}", "--extra-vars", var.bake_vars]
  }

  post-processor "docker-tag" {
    repository = "${var.image_repository}/base"
    tags       = [var.version_tag]
  }

  post-processor "manifest" {
    output = var.packer_manifest
    custom_data = {
      image    = "base"
      version  = var.version
      bake_key = var.bake_key
    }
  }
}
