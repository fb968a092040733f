"""fence_mdlp: the fence agent (fenced and Pacemaker's fencer) and its backends."""
