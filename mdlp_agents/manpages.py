"""The man pages, for the RPM build: `python3 -m mdlp_agents.manpages mdlp_rhcs|fence_mdlp|mdlp-cluster`.
The one module above the three tools: each builds its own page, this only dispatches."""

import sys


def page(tool):
    """TOOL's man page (roff), or None for a name that is not one of ours."""
    if tool == "mdlp_rhcs":
        from .rhcs.manpage import rhcs_manpage
        return rhcs_manpage()
    if tool == "mdlp-cluster":
        from .cluster.manpage import cluster_manpage
        return cluster_manpage()
    if tool == "fence_mdlp":
        from .fence.options import manpage
        return manpage()
    return None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    text = page(argv[0]) if len(argv) == 1 else None
    if text is None:
        sys.stderr.write("usage: python3 -m mdlp_agents.manpages mdlp_rhcs|fence_mdlp|mdlp-cluster\n")
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
