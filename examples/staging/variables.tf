variable "registry" {
  description = "Registry holding backend-production and frontend-production. The default is the demo registry shipped in examples/oci-layout; use ACCOUNT.dkr.ecr.REGION.amazonaws.com for ECR, or \"\" for ECR of the current AWS account and region."
  type        = string
  default     = "oci-layout:../oci-layout"
  nullable    = false
}
