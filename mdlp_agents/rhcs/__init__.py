"""mdlp_rhcs: the health and resource agent (rgmanager script, OCF agent, admin status)."""
