backend_version = "v1.3.0"
