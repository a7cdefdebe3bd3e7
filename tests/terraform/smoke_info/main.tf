# Smoke module for the harness: the real hashicorp/external provider runs a
# Python entry point of this package, and an output carries what it returned.
terraform {
  required_providers {
    external = {
      source = "hashicorp/external"
    }
  }
}

data "external" "info" {
  program = ["runlayer-tf", "info"]
}

output "name" {
  value = data.external.info.result.name
}

output "version" {
  value = data.external.info.result.version
}
