"""Deprecated: ``runlayer_tf.update.varfile`` is now :mod:`runlayer_tf.update` itself.

``from runlayer_tf.update import read_vars, set_vars`` instead; this alias module
goes away in the next release.
"""

from __future__ import annotations

import warnings

from runlayer_tf.update._varfile import read_vars, set_vars

warnings.warn(
    "runlayer_tf.update.varfile is deprecated; import read_vars and set_vars from runlayer_tf.update",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["read_vars", "set_vars"]
