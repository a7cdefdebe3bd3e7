module "backend" {
  image = "170974506510.dkr.ecr.us-east-1.amazonaws.com/backend-production:v1.2.3"
}
