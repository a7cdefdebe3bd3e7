terraform {
  # Validation blocks, nullable variables and startswith() need Terraform 1.3;
  # every OpenTofu release (1.6 and later) satisfies this too.
  required_version = ">= 1.3.0"

  required_providers {
    external = {
      source = "hashicorp/external"
      # The data source's query/result contract is the same in 1.x and 2.x.
      version = ">= 1.2.0, < 3.0.0"
    }
  }
}
