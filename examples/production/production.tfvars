# Release selectors for production: v1.2 means the newest 1.2.x release.
# Move to a new minor or major release by editing these lines (or with
# `runlayer-tf pins set` / `runlayer-tf update`), then apply:
#   tofu apply -var-file=production.tfvars
backend_version = "v1.2"

frontend_version = "v1.2"
