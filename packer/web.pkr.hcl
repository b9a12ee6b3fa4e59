# web: nginx serving a page with the image version, GET /healthz and GET /version (roles: webapp, image_seal).

source "docker" "web" {
  image       = var.parent_image
  pull        = false
  commit      = true
  volumes     = local.apt_cache_volumes
  run_command = ["-d", "-i", "-t", "--label", "io.immutable-infra.bake=${var.image_repository}/web", "--entrypoint=/bin/sh", "--", "{{.Image}}"]
  changes = [
    "LABEL org.opencontainers.image.title=web io.immutable-infra.name=web ${local.common_labels}",
    "ENTRYPOINT [\"/usr/sbin/nginx\"]",
    "CMD [\"-g\", \"daemon off;\"]",
    "EXPOSE 8080/tcp",
  ]
}

build {
  sources = ["source.docker.web"]

  provisioner "ansible" {
    playbook_file    = "${path.root}/../playbooks/provision.yml"
    use_proxy        = false
    ansible_env_vars = local.ansible_env_vars
    extra_arguments  = ["--extra-vars", "image=web ansible_host=${build.ID} ${local.bake_extra_vars}", "--extra-vars", var.bake_vars]
  }

  post-processor "docker-tag" {
    repository = "${var.image_repository}/web"
    tags       = [var.version_tag]
  }

  post-processor "manifest" {
    output = var.packer_manifest
    custom_data = {
      image    = "web"
      version  = var.version
      bake_key = var.bake_key
    }
  }
}
