image            = "170974506510.dkr.ecr.us-east-1.amazonaws.com/backend-production:v1.2.3"
worker           = "170974506510.dkr.ecr.us-east-1.amazonaws.com/backend-production:v1.2.3@sha256:d00f74ec3be925829ac9b69e51ca4b2a3b4aff665ab32da7578e07863358d33f"
frontend_version = "v1.2.3"
