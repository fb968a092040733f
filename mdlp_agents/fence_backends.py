"""The path site fence backends written against the first, flat layout import the base class
from (the package is mdlp_agents.fence.backends now); the entry-point group keeps this name."""
from .fence.backends import FenceBackend, FenceError  # noqa: F401
