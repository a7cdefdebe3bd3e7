"""runlayer-tf: resolve, pin and safely roll out container image versions with Terraform.

The package is kept light to import: the ``external`` data source program runs on
every ``terraform plan``, so submodules (and boto3) load only when used.
"""

from __future__ import annotations

from runlayer_tf._version import __version__
from runlayer_tf.errors import RunlayerError

__all__ = ["RunlayerError", "__version__"]
