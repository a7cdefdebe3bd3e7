backend_version = "latest"
