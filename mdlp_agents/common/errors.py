"""The errors a tool reports to its user: one line, and the exit code it leaves with.

Like click's ClickException, each error knows its exit code; the tool's one main
(common/main.py) turns any of them into a line on stderr and in the log, and that code.
"""


class AgentError(Exception):
    """A problem the user can act on (bad input, unusable file, a device that did not answer)."""

    exit_code = 1

    def __init__(self, message, exit_code=None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    def format_message(self):
        return str(self)
