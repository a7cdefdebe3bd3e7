# A stand-in for the product's root module, for the update integration tests.
#
# The state records the deployed backend version (terraform_data), and the
# apply-time provisioner writes it to ./deployed-version, which the tests'
# health server reads.  Faults are switched on by files under ./faults/:
#   hold-plan, hold-apply  keep tofu inside plan / apply until removed
#   hold-apply-VERSION     the same, only for the apply of VERSION
#   fail-apply-VERSION     make the apply of VERSION fail
terraform {
  required_providers {
    external = {
      source = "hashicorp/external"
    }
  }
}

variable "backend_version" {
  type = string
}

data "external" "plan_gate" {
  program = ["sh", "${path.module}/hooks.sh", "plan"]
}

resource "terraform_data" "backend" {
  input            = var.backend_version
  triggers_replace = [var.backend_version]

  provisioner "local-exec" {
    command     = "sh ./hooks.sh apply"
    environment = { VERSION = var.backend_version }
  }
}

output "backend_version" {
  value = terraform_data.backend.output
}
