module "backend" {
  image = "170974506510.dkr.ecr.us-east-1.amazonaws.com/backend-production:${var.backend_version}"
}
resource "aws_ecs_task_definition" "migrate" {
  container_definitions = <<EOT
[{"name": "migrate", "image": "170974506510.dkr.ecr.us-east-1.amazonaws.com/backend-production:v1.2.2"}]
EOT
}
