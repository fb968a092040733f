"""Where things are, named once: the files and directories the three tools share with each other,
with the cluster managers and with the guide.  Nothing here is read or created on import."""

# ours
MDLP_RHCS_CONF = "/etc/mdlp_agents/mdlp_rhcs.conf"
FENCE_CONF = "/etc/mdlp_agents/fence_mdlp.conf"
STATE_DIR = "/run/mdlp_agents"                          # tmpfs: gone at boot, as a cluster's roles are
GUIDE_SCRIPT = "/opt/websense/rproxy/cs/mdlp_rhcs"      # where the guide installs the health script
OCF_LINK = "/usr/lib/ocf/resource.d/websense/mdlp"

# the cluster managers'
CLUSTER_CONF = "/etc/cluster/cluster.conf"              # cman + rgmanager + fenced
COROSYNC_CONF = "/etc/corosync/corosync.conf"
CIB_FILE = "/var/lib/pacemaker/cib/cib.xml"             # each Pacemaker node's copy of the configuration

# rgmanager runs its scripts with this PATH: do not rely on a richer one
SYSTEM_PATH = "/bin:/sbin:/usr/bin:/usr/sbin"
# where fence agents and the cluster's tools live, for a caller whose PATH is short (sshd's default)
SBIN_FIRST_PATH = "/usr/sbin:/sbin:/usr/bin:/bin"
