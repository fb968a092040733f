"""Deprecated: the path site fence backends written against the first, flat layout import the base
class from.  Import mdlp_agents.fence.backends instead; the entry-point group keeps the name
mdlp_agents.fence_backends (that is a name, not this module)."""
import warnings

from .fence.backends import FenceBackend, FenceError  # noqa: F401

warnings.warn("mdlp_agents.fence_backends is deprecated: import FenceBackend and FenceError from "
              "mdlp_agents.fence.backends", DeprecationWarning, stacklevel=2)
