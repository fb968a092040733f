"""Converters for values from configuration files, stdin and the command line: each takes the
text and returns the value or raises ValueError saying what is wrong; the caller names the
file, section or key."""

# No timeout, deadline or delay here is meant to be longer than a day: a bigger number is a typo
# (or an attack), and beyond ~1e9 the clocks and sleeps it feeds overflow.
MAX_SECONDS = 86400.0


def seconds(value, positive=False, maximum=MAX_SECONDS):
    """A number of seconds: finite, not negative (above zero if POSITIVE), at most MAXIMUM."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if number != number or not (0 < number if positive else 0 <= number) or number > maximum:
        raise ValueError("%r is not a %snumber of seconds (at most %g)" % (value, "positive " if positive else "",
                                                                          maximum))
    return number


def milliseconds_step(value, low, high):
    """A number of seconds in whole milliseconds (0.5, "0.5", 30), LOW..HIGH: an int when whole."""
    try:
        number = seconds(value, maximum=high)
    except ValueError:
        raise ValueError("%r is not a number of seconds between %g and %g" % (value, low, high)) from None
    if not low <= number <= high or round(number * 1000) != number * 1000:
        raise ValueError("%r is not a number of seconds between %g and %g (in whole milliseconds)"
                         % (value, low, high))
    return int(number) if number == int(number) else number


def whole_number(value, maximum=10 ** 15):
    """A whole number written in ASCII digits (str.isdigit() also takes '²' and other scripts'
    digits, which int() then refuses or reads as numbers nobody wrote), at most MAXIMUM."""
    text = str(value).strip()
    if not text or len(text) > 18 or not all("0" <= c <= "9" for c in text) or int(text) > maximum:
        raise ValueError("%r is not a whole number (ASCII digits, at most %d)" % (value, maximum))
    return int(text)


def ip_address(value):
    """An IPv4 or IPv6 address, written as one (ASCII, no scope id: Python 3.9+ takes any text after
    '%' as a scope, and such text would reach ssh's command line and shell lines), normalized."""
    import ipaddress
    text = str(value).strip()
    if "%" in text:
        raise ValueError("%r has a scope id: give an address without %%..." % value)
    if any(ord(c) > 127 for c in text):     # str.isascii() came in 3.7
        raise ValueError("%r is not an IP address" % value)
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError("%r is not an IP address" % value) from None


_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def host_name(value):
    """A host name as DNS and /etc/hosts write it: dot-separated labels of ASCII letters, digits and
    '-', none starting with '-', at most 63 characters each and 253 in all (a trailing dot dropped)."""
    text = str(value).strip().rstrip(".")
    labels = text.split(".")
    if not text or len(text) > 253 or not all(
            label and len(label) <= 63 and label[0] != "-" and set(label) <= _LABEL_CHARS for label in labels):
        raise ValueError("%r is not a host name" % value)
    return text


TRUE_WORDS = ("1", "yes", "on", "true")
FALSE_WORDS = ("0", "no", "off", "false")


def boolean(value):
    """yes/no, on/off, true/false, 1/0 (any case) -> bool."""
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError("%r is not a boolean (1/0, yes/no, on/off, true/false)" % (value,))
