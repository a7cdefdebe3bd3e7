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
