"""mdlp-cluster: answer files, renders, cluster.conf checks, cluster status."""
