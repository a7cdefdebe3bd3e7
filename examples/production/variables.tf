variable "registry" {
  description = "Registry holding backend-production and frontend-production. The default is the demo registry shipped in examples/oci-layout; use ACCOUNT.dkr.ecr.REGION.amazonaws.com for ECR, or \"\" for ECR of the current AWS account and region."
  type        = string
  default     = "oci-layout:../oci-layout"
  nullable    = false
}

variable "backend_version" {
  description = "Backend release selector, e.g. v1.2 (newest 1.2.x), v1.2.3 or \"~> 1.2\"; set in production.tfvars."
  type        = string
}

variable "frontend_version" {
  description = "Frontend release selector, e.g. v1.2 (newest 1.2.x), v1.2.3 or \"~> 1.2\"; set in production.tfvars."
  type        = string
}

variable "cosign_public_key_file" {
  description = "PEM public key (cosign.pub) every resolved image must be signed with; relative paths are read from this directory. Empty (the default): no verification. The demo registry's releases are signed with ../demo-signing/DEMO-ONLY-cosign.pub, a DEMO key whose private key is published: in a real stack, use your vendor's release key."
  type        = string
  default     = ""
  nullable    = false
}
