# The one template every defined image is built with (playbooks/bake.yml sets its variables from the image's
# definition): the parent image, the image's roles applied by the provision play (bake_guard first, image_seal
# last) over the docker connection, the commit's changes (labels, entrypoint, command, ports, user, env...)
# computed by the playbook, the version tag and a manifest of every build.

source "docker" "image" {
  image       = var.parent_image
  pull        = false
  commit      = true
  volumes     = local.apt_cache_volumes
  run_command = ["-d", "-i", "-t", "--label", "io.immutable-infra.bake=${var.image_repository}/${var.image_name}", "--entrypoint=/bin/sh", "--", "{{.Image}}"]
  changes     = var.changes
}

build {
  sources = ["source.docker.image"]

  provisioner "ansible" {
    playbook_file    = local.provision_playbook
    use_proxy        = false
    ansible_env_vars = local.ansible_env_vars
    extra_arguments  = ["--extra-vars", "image=${var.image_name} ansible_host=${build.ID} ${local.bake_extra_vars}", "--extra-vars", var.bake_vars, "--extra-vars", var.bake_play_vars]
  }

  post-processor "docker-tag" {
    repository = "${var.image_repository}/${var.image_name}"
    tags       = [var.version_tag]
  }

  post-processor "manifest" {
    output = var.packer_manifest
    custom_data = {
      image    = var.image_name
      version  = var.version
      bake_key = var.bake_key
    }
  }
}
