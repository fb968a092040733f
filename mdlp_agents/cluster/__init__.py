"""mdlp-cluster: the answer file and its renders (site/), the cluster managers behind one seam
(stacks/), commands on the live cluster (live/), the doctor and its fact gathering (doctor/), and
the command line that prints what they return (cli.py)."""
