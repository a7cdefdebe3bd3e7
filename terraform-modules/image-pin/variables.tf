variable "repository" {
  description = "Repository name inside the registry, e.g. \"backend-production\" (OCI grammar: lowercase letters, digits, separators . _ __ -, components joined by /)."
  type        = string
  nullable    = false

  validation {
    condition     = length(var.repository) <= 255 && can(regex("^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$", var.repository))
    error_message = "The repository must be a valid OCI repository name: lowercase letters, digits and separators (. _ __ -), path components joined by /, at most 255 characters."
  }
}

variable "tag" {
  description = "Tag or selector to resolve: latest, v1.2.3, v1.2, v1, 1.2, a timestamp 20241213-152430, a build tag v1.2.3-20241213-152430-a1b2c3d4, a digest sha256:<64 hex>, or a constraint such as \"~> 1.2\" or \">= 1.3.0, < 1.4.0\"."
  type        = string
  nullable    = false

  validation {
    condition     = trimspace(var.tag) != ""
    error_message = "The tag must not be empty: give a tag or selector such as \"v1.2\" or \"latest\"."
  }
}

variable "registry" {
  description = "Where the repository lives: an ECR host (ACCOUNT.dkr.ecr.REGION.amazonaws.com), an OCI registry host[:port] or https:// URL, or oci-layout:PATH (a relative PATH is taken from Terraform's working directory). Empty means ECR of the current AWS account and region."
  type        = string
  default     = ""
  nullable    = false

  validation {
    # "", "ecr", oci-layout:PATH, or [http(s)://]host[:port][/] (a DNS name, IPv4 or [IPv6]).
    condition     = can(regex("^(?:|ecr|oci-layout:\\S+|(?:https?://)?(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\\[[0-9A-Fa-f:.]+\\])(?::[0-9]{1,5})?/?)$", var.registry))
    error_message = "The registry must be empty, an ECR host, an OCI registry host[:port] or http(s):// URL without a path, or oci-layout:PATH, without whitespace."
  }
}

variable "registry_id" {
  description = "ECR registry (AWS account) id; empty means the account of the registry host or of the current credentials."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.registry_id == "" || can(regex("^[0-9]{12}$", var.registry_id))
    error_message = "The registry_id must be empty or a 12-digit AWS account id."
  }
}

variable "region" {
  description = "ECR region, e.g. us-east-1; empty means the region of the registry host or of the AWS configuration."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.region == "" || can(regex("^[a-z]{2}(?:-[a-z]+)+-[0-9]+$", var.region))
    error_message = "The region must be empty or an AWS region such as us-east-1."
  }
}

variable "allow_prerelease" {
  description = "Let version selectors choose prereleases such as v1.3.0-rc.1 (semver precedence)."
  type        = bool
  default     = false
  nullable    = false
}

variable "insecure" {
  description = "Allow plain HTTP to a non-loopback OCI registry (loopback registries always may use HTTP)."
  type        = bool
  default     = false
  nullable    = false
}

variable "platform" {
  description = "A platform, OS/ARCH[/VARIANT] such as linux/amd64 or linux/arm64/v8: the digest of that platform's image (from a multi-platform index) instead of the index's. Empty means the digest the tag names. arm64's default variant is v8."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.platform == "" || (can(regex("^[a-z0-9]{1,32}/[a-z0-9]{1,32}(?:/[a-z0-9]{1,32})?$", var.platform)) && !startswith(var.platform, "unknown/"))
    error_message = "The platform must be empty or OS/ARCH[/VARIANT] in lowercase OCI names, such as linux/amd64 or linux/arm64/v8."
  }
}

variable "cosign_public_key" {
  description = "PEM public key (cosign.pub; several may be concatenated: any of them) the resolved digest must be signed with by `cosign sign`; the plan fails when it is not. Empty: no verification. See docs/signatures.md."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.cosign_public_key == "" || can(regex("^\\s*(?:-----BEGIN PUBLIC KEY-----[A-Za-z0-9+/=\\s]+-----END PUBLIC KEY-----\\s*)+$", var.cosign_public_key))
    error_message = "The cosign_public_key must be empty or PEM public keys (\"-----BEGIN PUBLIC KEY-----\" ... \"-----END PUBLIC KEY-----\", as in cosign.pub), e.g. file(\"cosign.pub\"); not a private key or a path."
  }
}

variable "program" {
  description = "Command that runs the external data source program; use e.g. [\"python3\", \"-m\", \"runlayer_tf.external\"] or an absolute path when runlayer-tf is not on PATH."
  type        = list(string)
  default     = ["runlayer-tf", "external"]
  nullable    = false

  validation {
    condition     = length(var.program) > 0
    error_message = "The program must name at least the executable to run."
  }
}
