# Production pins release selectors in production.tfvars (backend_version = "v1.2"):
# a plan picks the newest v1.2.x and deploys it by digest, so the running image
# changes only when a new patch release exists, and a major upgrade needs an
# edit to production.tfvars.  Run: tofu apply -var-file=production.tfvars

terraform {
  # terraform_data needs Terraform 1.4 (any OpenTofu release has it).
  required_version = ">= 1.4.0"

  required_providers {
    external = {
      source  = "hashicorp/external"
      version = ">= 1.2.0, < 3.0.0"
    }
  }
}

locals {
  # A relative oci-layout: path would be read from the working directory of
  # the external program; anchor it to this directory instead.
  layout_path = trimprefix(var.registry, "oci-layout:")
  registry = (
    startswith(var.registry, "oci-layout:") && !startswith(local.layout_path, "/")
    ? "oci-layout:${abspath("${path.module}/${local.layout_path}")}"
    : var.registry
  )
  # The release key every image must be signed with (cosign sign --key), read
  # relative to this directory; "" turns verification off.
  cosign_public_key = (
    var.cosign_public_key_file == "" ? "" : file(
      startswith(var.cosign_public_key_file, "/")
      ? var.cosign_public_key_file
      : "${path.module}/${var.cosign_public_key_file}"
    )
  )
}

module "backend" {
  source = "../../terraform-modules/image-pin"

  repository = "backend-production"
  tag        = var.backend_version
  registry   = local.registry

  cosign_public_key = local.cosign_public_key
}

module "frontend" {
  source = "../../terraform-modules/image-pin"

  repository = "frontend-production"
  tag        = var.frontend_version
  registry   = local.registry

  cosign_public_key = local.cosign_public_key
}

# Stand-in for aws_ecs_task_definition, which needs an AWS account: the
# container definitions it would receive, keyed by service.  In a real stack:
#
#   resource "aws_ecs_task_definition" "backend" {
#     container_definitions = local.container_definitions["backend"]
#     ...
#   }
locals {
  container_definitions = {
    backend = jsonencode([{
      name        = "backend"
      image       = module.backend.image
      essential   = true
      environment = [{ name = "RUNLAYER_VERSION", value = module.backend.version }]
    }])
    frontend = jsonencode([{
      name        = "frontend"
      image       = module.frontend.image
      essential   = true
      environment = [{ name = "RUNLAYER_VERSION", value = module.frontend.version }]
    }])
  }
}

resource "terraform_data" "task_definitions" {
  input = local.container_definitions
}
