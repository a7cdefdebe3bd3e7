backend_version = "v1.2.3"
