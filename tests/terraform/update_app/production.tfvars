# Production pins (rewritten by runlayer-tf update)
backend_version = "v1.2.3" # keep this comment
