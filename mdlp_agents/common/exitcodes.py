"""Exit codes of the contracts we speak (LSB init scripts, OCF resource agents, fence agents).

LSB: https://refspecs.linuxfoundation.org/LSB_5.0.0/LSB-Core-generic/LSB-Core-generic/iniscrptact.html
OCF: resource-agents' ocf-returncodes / the OCF resource agent API (ra/1.0, ra/1.1).
Fence agents: fence-agents' fencing.py (EC_OK, EC_GENERIC_ERROR, and 2 for `status` of a node off).
"""

# LSB `status`
LSB_STATUS_RUNNING = 0
LSB_STATUS_DEAD_PIDFILE = 1
LSB_STATUS_DEAD_LOCKFILE = 2
LSB_STATUS_NOT_RUNNING = 3
LSB_STATUS_UNKNOWN = 4

# LSB, every other action
LSB_OK = 0
LSB_ERR_GENERIC = 1
LSB_ERR_ARGS = 2
LSB_ERR_UNIMPLEMENTED = 3
LSB_ERR_PERM = 4
LSB_ERR_INSTALLED = 5
LSB_ERR_CONFIGURED = 6
LSB_NOT_RUNNING = 7

# OCF
OCF_SUCCESS = 0
OCF_ERR_GENERIC = 1
OCF_ERR_ARGS = 2
OCF_ERR_UNIMPLEMENTED = 3
OCF_ERR_PERM = 4
OCF_ERR_INSTALLED = 5
OCF_ERR_CONFIGURED = 6
OCF_NOT_RUNNING = 7

# fence agents
FENCE_OK = 0
FENCE_FAILED = 1
FENCE_STATUS_OFF = 2
