# Resolve a tag selector to an image digest at plan time with runlayer-tf's
# program for the external data source.  The program answers from a short-lived
# local cache, and for ECR the instances of one plan share one background
# resolver, so many instances of this module in one plan stay cheap.
#
# With cosign_public_key set, the program also verifies the resolved digest's
# cosign signature and fails the plan when that key did not sign it.

locals {
  # The program takes strings only; unset optional keys are left out rather
  # than sent empty, so its defaults (e.g. ECR of the current account) apply.
  query = {
    for key, value in {
      repository       = var.repository
      tag              = trimspace(var.tag)
      registry         = var.registry
      registry_id      = var.registry_id
      region           = var.region
      allow_prerelease = var.allow_prerelease ? "true" : ""
      insecure         = var.insecure ? "true" : ""
      platform         = var.platform
      verify_key       = var.cosign_public_key
    } : key => value if value != ""
  }
}

data "external" "image" {
  program = var.program
  query   = local.query
}
