# A stand-in for terraform-modules/image-pin (same inputs and outputs that the
# benchmark uses): one `external` data source running runlayer-tf's program.
terraform {
  required_providers {
    external = {
      source = "hashicorp/external"
    }
  }
}

variable "repository" {
  type = string
}

variable "tag" {
  type = string
}

variable "registry" {
  type    = string
  default = ""
}

variable "registry_id" {
  type    = string
  default = ""
}

variable "region" {
  type    = string
  default = ""
}

variable "program" {
  type    = list(string)
  default = ["runlayer-tf", "external"]
}

data "external" "pin" {
  program = var.program
  query = {
    repository  = var.repository
    tag         = var.tag
    registry    = var.registry
    registry_id = var.registry_id
    region      = var.region
  }
}

output "image" {
  value = data.external.pin.result.image
}

output "digest" {
  value = data.external.pin.result.digest
}

output "tag" {
  value = data.external.pin.result.tag
}
