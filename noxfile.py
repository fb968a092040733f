"""The platform matrix: the agents on the Python, click, psutil, pip and setuptools of each
platform the RPM is built for.  `sh tools/bootstrap test` runs every row; one row alone:

    /opt/mdlp-agents/venv/bin/nox -s el8 [-- PYTEST_ARGS]
    /opt/mdlp-agents/venv/bin/nox -s rpm-el8          # only build that EL's RPM (build/rpm/el8)

`tools/bootstrap test` runs lint, installs el8 and el9 (`--install-only`), then runs three lanes
side by side (`-R`), each in namespaces of its own (tools/side-by-side): current's cluster tests
(`current-clusters`); the rest of current (`current-others`) and then el8; el9.
`lint` runs ruff (ruff.toml).  `current` is the main run: the whole suite (clusters included)
on this machine's Python with today's click and psutil, from the environment `tools/bootstrap`
made.  `el8` and `el9` each make a virtual environment with that platform's interpreter and
pinned releases, install the agents there with that platform's pip (pip 9 on EL8: setup.py, no
PEP 517), and run every test that needs no cluster from the main environment against those
agents (tests/platform_under_test.py), the RPM build and install step included (`make rpm EL=N`
with the row's interpreter).
"""

import glob
import os
import re
import shutil
import subprocess
import sys

import nox

# Versions as the platforms ship them (sources: README "Platforms"); the RPM spec's Requires
# floors are the el8 row's, and tests/packaging/test_rpm_cli.py checks that they agree.
PLATFORMS = {
    "el8": {"python": "3.6", "click": "6.7", "psutil": "5.4.3", "pip": "9.0.3", "setuptools": "39.2.0",
            "tomli": "1.2.3"},
    "el9": {"python": "3.9", "click": "7.1.2", "psutil": "5.8.0", "pip": "21.2.3", "setuptools": "53.0.0",
            "tomli": "2.0.1"},
}
# What the rows leave out: the clusters run in the main row, and tests that import the package
# into pytest's own interpreter say nothing about the row's.
ROW_MARKERS = "not cluster and not inprocess"
# Outside the checkout and readable by all: ocf-tester runs the agent as `nobody`.
HOME = os.environ.get("MDLP_NOX_HOME", "/opt/mdlp-agents")
REPO = os.path.dirname(os.path.abspath(__file__))

nox.options.envdir = os.path.join(HOME, "nox")
nox.options.sessions = ["lint", "current", "el8", "el9"]
nox.options.error_on_missing_interpreters = True
nox.options.download_python = "never"


def _interpreter(version):
    """This machine's build of Python VERSION (pyenv's), where any user can run it.

    pyenv keeps its builds under root's home (0700) with a RUNPATH into it: copy the build once
    to HOME/python/X.Y.Z and point its RUNPATH at itself.  Elsewhere (an EL node), pythonX.Y on
    the PATH."""
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    builds = sorted((path for path in glob.glob(os.path.join(pyenv_root, "versions", version + ".*", "bin",
                                                              "python" + version))
                     if re.match(r"^\d+\.\d+\.\d+$", path.split("/")[-3])),   # not 3.6-dev, 3.9.18t
                    key=lambda path: [int(part) for part in path.split("/")[-3].split(".")])
    if not builds:
        return shutil.which("python" + version) or "python" + version
    source = os.path.dirname(os.path.dirname(builds[-1]))
    target = os.path.join(HOME, "python", os.path.basename(source))
    executable = os.path.join(target, "bin", "python" + version)
    if not os.path.exists(executable):
        staging = target + ".tmp"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(source, staging, symlinks=True)
        subprocess.run(["patchelf", "--set-rpath", "$ORIGIN/../lib", os.path.join(staging, "bin", "python" + version)],
                       check=True)
        for directory in (HOME, os.path.join(HOME, "python")):
            os.chmod(directory, 0o755)
        os.rename(staging, target)
    return executable


@nox.session(python=False)
def lint(session):
    """ruff (ruff.toml: pyflakes, pycodestyle, bugbear, import order), clean."""
    session.run(sys.executable, "-m", "ruff", "check", REPO, external=True)


@nox.session(python=False)
def current(session):
    """The whole suite, clusters included, against the agents installed beside nox itself."""
    session.run(sys.executable, "-m", "pytest", *session.posargs, external=True)


# `current` in two halves, for lanes side by side (tools/bootstrap): the clusters mostly wait
# (for timers, fencing delays, boots), the rest mostly runs.
@nox.session(name="current-clusters", python=False)
def current_clusters(session):
    """current's cluster tests alone (-m cluster: the Pacemaker labs, the rgmanager harness)."""
    session.run(sys.executable, "-m", "pytest", "-m", "cluster", *session.posargs, external=True)


@nox.session(name="current-others", python=False)
def current_others(session):
    """current without its cluster tests (-m 'not cluster')."""
    session.run(sys.executable, "-m", "pytest", "-m", "not cluster", *session.posargs, external=True)


def _make_row(name, spec):
    def toolchain(session):
        """The platform's releases, then its pip last (pip 9 cannot reach today's index)."""
        session.install("click==" + spec["click"], "psutil==" + spec["psutil"], "tomli==" + spec["tomli"],
                        "setuptools==" + spec["setuptools"])
        session.install("pip==" + spec["pip"])
        session.run_install("python", "-m", "pip", "--version")

    def row(session):
        toolchain(session)
        # the agents, installed with the platform's pip: pip 9 runs setup.py (no PEP 517),
        # pip 21 builds a wheel through pyproject.toml, as on an EL8 / EL9 node
        # (run_install: part of the installation, so `--install-only` does it and `-R` leaves it be)
        with session.chdir(session.virtualenv.location):   # not the checkout: `python -m` looks in the cwd
            # (pip 9 reinstalls a local directory of the same version only with --upgrade too)
            session.run_install("python", "-m", "pip", "install", "-q", "--no-deps", "--upgrade",
                                "--force-reinstall", "--disable-pip-version-check", REPO)
        env = {"MDLP_AGENTS_BIN": os.path.join(session.virtualenv.location, "bin"), "MDLP_PLATFORM": name}
        session.run(sys.executable, "-m", "pytest", "-m", ROW_MARKERS, *session.posargs, env=env, external=True)

    def rpm(session):
        toolchain(session)
        session.run("make", "-C", REPO, "rpm", "EL=%s" % name[2:], "PYTHON=%s" % sys.executable,
                    "PYTHON3=%s" % os.path.join(session.virtualenv.location, "bin", "python"), external=True)

    row.__doc__ = "Python %(python)s, click %(click)s, psutil %(psutil)s, pip %(pip)s, setuptools %(setuptools)s" % spec
    rpm.__doc__ = "The %s RPM (build/rpm/%s), built with that platform's Python and setuptools" % (name.upper(), name)
    interpreter = _interpreter(spec["python"])
    nox.session(name=name, python=interpreter, venv_backend="venv")(row)
    nox.session(name="rpm-" + name, python=interpreter, venv_backend="venv")(rpm)


for _name, _spec in PLATFORMS.items():
    _make_row(_name, _spec)
