# Production: pin to tested versions
backend_version = "v1.2.0"   # tested in staging 2024-11-20
