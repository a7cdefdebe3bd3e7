output "backend_image" {
  description = "Digest-pinned backend image to deploy."
  value       = module.backend.image
}

output "backend_tag" {
  description = "The backend tag the selector chose."
  value       = module.backend.tag
}

output "backend_version" {
  description = "The backend release version (without the leading v)."
  value       = module.backend.version
}

output "frontend_image" {
  description = "Digest-pinned frontend image to deploy."
  value       = module.frontend.image
}

output "frontend_tag" {
  description = "The frontend tag the selector chose."
  value       = module.frontend.tag
}

output "frontend_version" {
  description = "The frontend release version (without the leading v)."
  value       = module.frontend.version
}

output "container_definitions" {
  description = "What the ECS task definitions would receive, as recorded in state."
  value       = terraform_data.task_definitions.output
}
