"""The heading every man page starts with (fence_mdlp builds its page on its own path, -o manpage).
Each tool builds its own page from its own help (rhcs/manpage.py, fence/options.py,
cluster/manpage.py); mdlp_agents/manpages.py is the RPM build's one entry to them."""

from .. import version
from .escape import roff


def heading(name, summary):
    """A page's first lines: .TH (section 8, the version) and NAME."""
    return ['.TH %s 8 "" "mdlp-agents %s" "System Administration"' % (name.upper().replace("-", "\\-"), version()),
            ".SH NAME", "%s \\- %s" % (roff(name), roff(summary))]
