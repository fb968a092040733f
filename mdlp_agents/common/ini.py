"""INI files (mdlp_rhcs.conf, fence_mdlp.conf, INI answer files): one configparser set-up and
its errors in one line.

The same rules everywhere: no interpolation, no [DEFAULT] magic (it is just an unknown section),
a key or section given twice is an error, `;` and `#` start comments (inline too, after a
space), a blank line ends a value.  Imported only by the modules that read files, never on the
agent's cached status path (configparser is most of that path's cost when it is not needed).
"""

import configparser
import io

NO_DEFAULT_SECTION = "\0no default section"


class IniError(ValueError):
    """The file cannot be used as INI: 'line N: what' or 'cannot read: why' (the caller names the file)."""


def parse(source, path, case_sensitive=False):
    """A ConfigParser holding SOURCE (text, or an open text file) read as PATH; IniError otherwise.
    An error names the line and what is wrong with it, never the line's text: it may be a
    mistyped secret, or the file named may be somebody's file of password hashes."""
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"),
                                       default_section=NO_DEFAULT_SECTION, strict=True,
                                       empty_lines_in_values=False)
    if case_sensitive:
        parser.optionxform = str
    try:
        parser.read_file(io.StringIO(source) if isinstance(source, str) else source, source=path)
    except (OSError, UnicodeDecodeError) as exc:
        raise IniError("cannot read: %s" % (getattr(exc, "strerror", None) or exc)) from None
    except configparser.Error as exc:
        raise IniError(one_line(exc)) from None
    return parser


def one_line(exc):
    """configparser's error as 'line N: what is wrong' (names of sections and keys, which the
    file's grammar made such; no other text of the line)."""
    if isinstance(exc, configparser.MissingSectionHeaderError):
        return "line %d: text before the first [section]" % exc.lineno
    if isinstance(exc, configparser.DuplicateSectionError):
        return "line %s: section [%s] appears twice" % (exc.lineno, exc.section)
    if isinstance(exc, configparser.DuplicateOptionError):
        return "line %s: [%s] %s appears twice" % (exc.lineno, exc.section, exc.option)
    if isinstance(exc, configparser.ParsingError):
        return "line %d: not a 'key = value' line" % exc.errors[0][0]
    lineno = getattr(exc, "lineno", None)
    return "%s%s" % ("line %s: " % lineno if lineno else "", type(exc).__name__)
