"""Real-part test harness: provisioned OpenTofu, a moto server, distribution registries.

Nothing here fakes a protocol: the moto server speaks AWS's HTTP APIs, the
registry is Debian's build of the CNCF distribution registry, and OpenTofu is the
binary ``scripts/provision-tools`` built from the Go module proxy.
"""
