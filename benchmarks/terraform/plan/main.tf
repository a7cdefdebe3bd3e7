# Root configuration for benchmark (c): one module instance per selector.
# The benchmark copies benchmarks/terraform/ to a temp dir and plans with
# -var-file=<one|twenty-same|twenty-different>.tfvars.json.
terraform {
  required_providers {
    external = {
      source = "hashicorp/external"
    }
  }
}

variable "selectors" {
  type        = list(string)
  description = "One module instance per entry."
}

variable "repository" {
  type    = string
  default = "backend-production"
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "program" {
  type        = list(string)
  default     = ["runlayer-tf", "external"]
  description = "The benchmark passes the venv's absolute runlayer-tf path."
}

module "pin" {
  source   = "../modules/pin"
  for_each = { for i, s in var.selectors : format("%02d", i) => s }

  repository = var.repository
  tag        = each.value
  region     = var.region
  program    = var.program
}

output "tags" {
  value = { for k, m in module.pin : k => m.tag }
}
