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


def parse(source, path, case_sensitive=False, echo=True):
    """A ConfigParser holding SOURCE (text, or an open text file) read as PATH; IniError otherwise.
    ECHO=False keeps the offending line out of the message: it may be a mistyped secret."""
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
        raise IniError(one_line(exc, echo)) from None
    return parser


def one_line(exc, echo=True):
    """configparser's error as 'line N: what is wrong' (with the line itself if ECHO)."""
    if isinstance(exc, configparser.MissingSectionHeaderError):
        return "line %d: text before the first [section]%s" % (exc.lineno, ": %r" % exc.line.strip() if echo else "")
    if isinstance(exc, configparser.DuplicateSectionError):
        return "line %s: section [%s] appears twice" % (exc.lineno, exc.section)
    if isinstance(exc, configparser.DuplicateOptionError):
        return "line %s: [%s] %s appears twice" % (exc.lineno, exc.section, exc.option)
    if isinstance(exc, configparser.ParsingError):
        lineno, line = exc.errors[0]
        import ast  # an error's cold path: ast costs fence_mdlp's monitor 2 ms otherwise
        try:   # configparser keeps repr(line)
            line = ast.literal_eval(line)
        except (ValueError, SyntaxError):
            pass
        return "line %d: not a 'key = value' line%s" % (lineno, ": %r" % str(line).strip() if echo else "")
    return " ".join(str(exc).split()) if echo else type(exc).__name__
