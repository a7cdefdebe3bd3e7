image            = "170974506510.dkr.ecr.us-east-1.amazonaws.com/backend-production:v1.2.3.4"
worker           = "170974506510.dkr.ecr.us-east-1.amazonaws.com/backend-production:v1.2.3@sha256:abc123"
frontend_version = "v01.2.3"
