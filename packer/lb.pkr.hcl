# lb: HAProxy with its runtime API, a frontend and an empty backend for servers added at run time (roles: haproxy, image_seal).

source "docker" "lb" {
  image       = var.parent_image
  pull        = false
  commit      = true
  volumes     = local.apt_cache_volumes
  run_command = ["-d", "-i", "-t", "--label", "io.immutable-infra.bake=${var.image_repository}/lb", "--entrypoint=/bin/sh", "--", "{{.Image}}"]
  changes = [
    "LABEL org.opencontainers.image.title=lb io.immutable-infra.name=lb ${local.common_labels}",
    "ENTRYPOINT [\"/usr/local/sbin/immutable-lb-start\"]",
    "CMD []",
    "EXPOSE 8080/tcp 8404/tcp 9999/tcp",
  ]
}

build {
  sources = ["source.docker.lb"]

  provisioner "ansible" {
    playbook_file    = "${path.root}/../playbooks/provision.yml"
    use_proxy        = false
    ansible_env_vars = local.ansible_env_vars
    extra_arguments  = ["--extra-vars", "image=lb ansible_host=${build.ID} ${local.bake_extra_vars}", "--extra-vars", var.bake_vars]
  }

  post-processor "docker-tag" {
    repository = "${var.image_repository}/lb"
    tags       = [var.version_tag]
  }

  post-processor "manifest" {
    output = var.packer_manifest
    custom_data = {
      image    = "lb"
      version  = var.version
      bake_key = var.bake_key
    }
  }
}
