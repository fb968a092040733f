"""The site as an answer file describes it (answers.py), what it renders to (render.py:
cluster.conf, Pacemaker's pcs/crm/CIB, firewall, hosts, DNS), and the guide's rules checked on an
existing cluster.conf (conf_check.py)."""
