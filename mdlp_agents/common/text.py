"""Text from outside, made fit for the lines others read: a terminal, syslog and the journal, the
OCF exit reason that the CIB keeps and crm_mon shows, the one-line LSB status, doctor's report.

Anything may arrive there from outside -- a process name any user sets, a partner's hostname, a
node name on stdin, an environment variable, a line of a file: a newline in it would forge a
line of its own ("mdlp: RUNNING", "OK fencing ..."), an escape sequence would rewrite the
terminal.  Every writer passes what it writes through one_line(); nothing else decides what is
printable.
"""

# the whitespace that would start a new line or move the cursor: a space instead
_BREAKS = {ord(c): " " for c in "\t\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


def one_line(text, limit=None):
    """TEXT on one line of printable characters: line breaks and tabs become spaces, every other
    character that is not printable (control characters, ESC, bidirectional overrides,
    unassigned code points) becomes '?'; with LIMIT, at most that many characters ('...' marks
    a cut)."""
    text = str(text)
    if not text.isprintable():
        text = "".join(c if c.isprintable() else "?" for c in text.translate(_BREAKS))
    if limit is not None and len(text) > limit:
        text = text[:max(0, limit - 3)] + "..."
    return text


def one_line_words(text, limit=None):
    """one_line(TEXT), its runs of spaces made one (an exit reason, a summary)."""
    return " ".join(one_line(text, limit).split())
