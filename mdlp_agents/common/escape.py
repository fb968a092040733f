"""Text for the formats we write by hand: XML (metadata, renders) and roff (man pages)."""


def xml(text, quote=True):
    """TEXT for XML character data; with QUOTE, also for an attribute value in double quotes."""
    text = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&quot;").replace("\n", "&#10;") if quote else text


def roff(text):
    """TEXT for a roff line: backslashes and hyphens escaped, no line read as a request."""
    return str(text).replace("\\", "\\\\").replace("-", "\\-").replace("\n.", "\n\\&.")
