output "image" {
  description = "Digest-pinned reference to deploy: <registry host>/<repository>@<digest>."
  value       = data.external.image.result.image
}

output "digest" {
  description = "The image digest (sha256:...); for a multi-platform image, the digest of its index, or with platform set, of that platform's image."
  value       = data.external.image.result.digest
}

output "tag" {
  description = "The concrete tag the selector chose, e.g. v1.2.3 for v1.2 (empty when a digest matched no tag)."
  value       = data.external.image.result.tag
}

output "version" {
  description = "The release version of the chosen image without the leading v, e.g. 1.2.3; empty when it has none."
  value       = data.external.image.result.version
}

output "tags" {
  description = "Every tag on the chosen digest, sorted."
  value       = compact(split(",", data.external.image.result.tags))
}

output "registry" {
  description = "The registry the image was resolved in (host, or oci-layout:PATH)."
  value       = data.external.image.result.registry
}

output "repository" {
  description = "The repository name."
  value       = data.external.image.result.repository
}

output "build_timestamp" {
  description = "Build time (RFC 3339, UTC) from the build or timestamp tag on the same digest; empty when none."
  value       = data.external.image.result.build_timestamp
}

output "commit" {
  description = "Commit from the build tag on the same digest; empty when none."
  value       = data.external.image.result.commit
}

output "pushed_at" {
  description = "When the image was pushed (RFC 3339, UTC); empty when the registry does not say."
  value       = data.external.image.result.pushed_at
}

output "platform" {
  description = "With platform set, the platform of the chosen image as the index names it (e.g. linux/arm64/v8); empty otherwise."
  value       = data.external.image.result.platform
}

output "index_digest" {
  description = "With platform set, the digest of the index the platform's image was chosen from; empty otherwise, or when the tag names a single-platform image."
  value       = data.external.image.result.index_digest
}

output "signed_by" {
  description = "Fingerprint (sha256: of the DER public key) of the cosign_public_key that signed the digest; empty without cosign_public_key."
  value       = lookup(data.external.image.result, "signed_by", "")
}
