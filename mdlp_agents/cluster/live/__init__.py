"""Commands on the live cluster, through the seam of stacks/: status (where the service runs) and
maintenance (the cluster stops acting on its health, and starts again)."""
