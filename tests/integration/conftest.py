"""Fixtures shared by the update test files.

``world``: the World of ``test_update_faults.py`` (a deployed root, an Aurora
cluster in moto, a health server), and the ``rds`` client it needs.
"""

from tests.integration.test_update_faults import rds, world

__all__ = ["rds", "world"]
