# Staging tracks `latest`: every plan resolves it again, so a new release shows
# up as a change to the recorded images (and, in a real stack, to the ECS task
# definitions) the next time you run `tofu apply`.

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
}

module "backend" {
  source = "../../terraform-modules/image-pin"

  repository = "backend-production"
  tag        = "latest"
  registry   = local.registry
}

module "frontend" {
  source = "../../terraform-modules/image-pin"

  repository = "frontend-production"
  tag        = "latest"
  registry   = local.registry
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
