"""validate-all beyond the file's syntax: are the programs the configuration names there?"""

import os
import shlex

from ..common.files import find_program
from ..common.paths import SYSTEM_PATH
from .probes import init_command


def _program_missing(command):
    """The first word of an admin's command line, if it cannot be run."""
    try:
        words = shlex.split(command)
    except ValueError:
        return command  # unbalanced quotes: /bin/sh would refuse it as well
    # skip leading VAR=value assignments
    while words and "=" in words[0] and not words[0].startswith(("/", ".")):
        words = words[1:]
    if not words:
        return None
    program = words[0]
    if "/" in program:
        return None if os.access(program, os.X_OK) and os.path.isfile(program) else program
    if program in _SHELL_BUILTINS:
        return None
    return None if find_program(program, SYSTEM_PATH + ":" + os.environ.get("PATH", "")) else program


_SHELL_BUILTINS = {"exec", "cd", "test", "[", "true", "false", "echo", "kill", "sleep", ":", "."}


def missing_programs(config, actions=("start", "stop", "init")):
    """One message per program that the configuration names for ACTIONS and that is missing."""
    problems = []
    for svc in config.services:
        for key in actions:
            value = getattr(svc, key)
            if not value:
                continue
            if key == "init":
                if init_command(value) is None:
                    problems.append("%s: [service %s] init: no systemctl, service or /etc/init.d/%s to ask"
                                    % (config.path, svc.name, value))
                continue
            program = _program_missing(value)
            if program:
                problems.append("%s: [service %s] %s: program %s is not installed or not executable"
                                % (config.path, svc.name, key, program))
    return problems
