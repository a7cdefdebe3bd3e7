backend_version = "v1.9.9"
