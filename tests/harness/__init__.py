"""Real-part test harness: provisioned OpenTofu and Terraform, a moto server, distribution registries.

Nothing here fakes a protocol: the moto server speaks AWS's HTTP APIs, the
registry is Debian's build of the CNCF distribution registry, and OpenTofu and
Terraform are the binaries ``scripts/provision-tools`` found on PATH or built
from the Go module proxy.
"""
