"""The RPM: built with rpmbuild from the sdist, installed into scratch roots with rpm,
upgraded and removed; the wheel installed into a fresh venv."""

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

from platform_under_test import PLATFORM, PYTHON

# The row's interpreter builds the RPM (its sitelib and python(abi)) and runs what it installed;
# the main run's RPM is for this host's /usr/bin/python3, as its launchers say.
TARGET_PYTHON = "/usr/bin/python3" if PLATFORM == "current" else str(PYTHON)
SITELIB, PY_VERSION = subprocess.run(
    [TARGET_PYTHON, "-c", "import sys, sysconfig; print(sysconfig.get_path('purelib', 'posix_prefix', "
     "vars={'base': '/usr', 'platbase': '/usr'}).lstrip('/')); print('%d.%d' % sys.version_info[:2])"],
    capture_output=True, text=True, check=True).stdout.split()
RNG = "/usr/share/cluster/relaxng/metadata.rng"


VERSION_FILE = "mdlp_agents/__init__.py"


def _version(tree):
    for line in (tree / VERSION_FILE).read_text().splitlines():
        if line.startswith("__version__ = "):
            return line.split("=", 1)[1].strip().strip('"')
    raise AssertionError("no __version__ in %s" % VERSION_FILE)


def _platforms():
    """noxfile.py's PLATFORMS table, read without running the noxfile."""
    tree = ast.parse((REPO / "noxfile.py").read_text())
    (value,) = [node.value for node in tree.body if isinstance(node, ast.Assign)
                and any(getattr(target, "id", None) == "PLATFORMS" for target in node.targets)]
    return ast.literal_eval(value)


def build_rpm(tree, topdir):
    el = [] if PLATFORM == "current" else ["EL=%s" % PLATFORM[2:], "PYTHON3=%s" % PYTHON]
    result = subprocess.run(["make", "-C", str(tree), "rpm", "PYTHON=%s" % sys.executable, "TOPDIR=%s" % topdir] + el,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (rpm,) = Path(topdir, "RPMS", "noarch").glob("mdlp-agents-*.noarch.rpm")
    (srpm,) = Path(topdir, "SRPMS").glob("mdlp-agents-*.src.rpm")
    return rpm, srpm


def source_copy(tree):
    """The checkout's files at TREE (a build writes its egg-info and sdist tree into the source: the
    platform rows build side by side, each from a copy of its own)."""
    shutil.copytree(REPO, tree, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info",
                                                               "__pycache__", ".pytest_cache"))
    return tree


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if not shutil.which("rpmbuild"):
        pytest.fail("rpmbuild is not installed: run sh tools/bootstrap test")
    topdir = tmp_path_factory.mktemp("rpmbuild")
    return build_rpm(source_copy(tmp_path_factory.mktemp("source") / "tree"), topdir) + (topdir,)


def rpm(root, *args):
    result = subprocess.run(["rpm", "--root", str(root), "--nodeps", "--noscripts"] + list(args),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def files_under(root):
    found = set()
    for path in Path(root).rglob("*"):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(("var/lib/rpm", "usr/lib/sysimage/rpm", "root/.rpmdb", "var/tmp", "tmp")):  # rpm's db
            continue
        if path.is_file() or path.is_symlink():
            found.add(relative)
    return found


def run_installed(root, program, *args, env=None, python_flags=()):
    """An installed launcher, run as its #! line says (the target's python3 -s) with the root's sitelib."""
    environ = dict(os.environ, PYTHONPATH=str(Path(root, SITELIB)))
    environ.pop("MDLP_RHCS_CONF", None)
    environ.update(env or {})
    return subprocess.run([TARGET_PYTHON, "-s"] + list(python_flags) + [str(Path(root, program))] + list(args),
                          capture_output=True, text=True, env=environ, timeout=60)


def test_rpm_contents(built):
    rpm_file, srpm, _ = built
    listing = subprocess.run(["rpm", "-qlp", str(rpm_file)], capture_output=True, text=True).stdout.split()
    for path in ("/opt/websense/rproxy/cs/mdlp_rhcs", "/usr/sbin/fence_mdlp", "/usr/sbin/mdlp_rhcs",
                 "/usr/lib/ocf/resource.d/websense/mdlp", "/etc/mdlp_agents/mdlp_rhcs.conf",
                 "/etc/mdlp_agents/fence_mdlp.conf", "/usr/share/man/man8/mdlp_rhcs.8.gz",
                 "/usr/share/man/man8/fence_mdlp.8.gz", "/usr/sbin/mdlp-cluster",
                 "/usr/share/man/man8/mdlp-cluster.8.gz", "/" + SITELIB + "/mdlp_agents/rhcs/cli.py",
                 "/" + SITELIB + "/mdlp_agents/fence/backends/ipmi.py"):
        assert path in listing, path
    # bytecode ships: root's environment may forbid writing it, and the cluster runs status every 30 s
    assert any(p.startswith("/" + SITELIB + "/mdlp_agents/rhcs/__pycache__/cli.cpython-") for p in listing)
    configs = subprocess.run(["rpm", "-qpc", str(rpm_file)], capture_output=True, text=True).stdout.split()
    assert configs == ["/etc/mdlp_agents/fence_mdlp.conf", "/etc/mdlp_agents/mdlp_rhcs.conf"]
    dump = subprocess.run(["rpm", "-qp", "--dump", str(rpm_file)], capture_output=True, text=True).stdout
    for line in dump.splitlines():
        fields = line.split()
        if fields[0].startswith("/etc/mdlp_agents/") and fields[0].endswith(".conf"):
            assert fields[4] == "0100600" and fields[5] == "root" and fields[7] == "1", line  # mode, owner, config
    info = subprocess.run(["rpm", "-qpi", str(rpm_file)], capture_output=True, text=True).stdout
    assert "Version     : %s" % _version(REPO) in info and "Architecture: noarch" in info
    requires = subprocess.run(["rpm", "-qp", "--requires", str(rpm_file)], capture_output=True, text=True).stdout
    assert "python(abi) = %s" % PY_VERSION in requires.splitlines(), requires  # the sitelib of that Python
    # the floors are the oldest platform the matrix proves (noxfile.py PLATFORMS["el8"])
    oldest = _platforms()["el8"]
    assert {"python3 >= %s" % oldest["python"], "python3-psutil >= %s" % oldest["psutil"],
            "python3-click >= %s" % oldest["click"]} <= set(requires.splitlines()), requires
    recommends = subprocess.run(["rpm", "-qp", "--recommends", str(rpm_file)], capture_output=True, text=True).stdout
    assert set(recommends.split()) == {"python3-systemd", "ipmitool", "openssh-clients"}
    # the SRPM carries a spec that builds on its own (the version is in it)
    spec = subprocess.run(["rpm", "-qpl", str(srpm)], capture_output=True, text=True).stdout
    assert "mdlp-agents.spec" in spec and "mdlp_agents-%s.tar.gz" % _version(REPO) in spec


def test_rpmlint_is_clean(built):
    _, _, topdir = built
    result = subprocess.run(["make", "-C", str(REPO), "rpmlint", "TOPDIR=%s" % topdir], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors, 0 warnings" in result.stdout, result.stdout


def test_installed_agents_run_from_a_scratch_root(built, tmp_path, fake):
    rpm_file, _, _ = built
    root = tmp_path / "root"
    root.mkdir()
    rpm(root, "-i", str(rpm_file))
    meta = run_installed(root, "opt/websense/rproxy/cs/mdlp_rhcs", "meta-data")
    assert meta.returncode == 0 and '<resource-agent name="mdlp"' in meta.stdout, meta.stderr
    # the OCF front: bash, naming the agent and the state directory the package installs
    front = root / "usr/lib/ocf/resource.d/websense/mdlp"
    text = front.read_text()
    assert not front.is_symlink() and front.stat().st_mode & 0o777 == 0o755 and text.startswith("#!/bin/bash -p\n")
    assert "\nagent=/opt/websense/rproxy/cs/mdlp_rhcs " in text and "\nstate=/run/mdlp_agents " in text, text[:1500]
    assert subprocess.run(["bash", "-n", str(front)]).returncode == 0
    # run as Pacemaker runs it, its agent line pointing into the scratch root (through the root's launcher)
    relay = tmp_path / "relay"
    relay.write_text('#!/bin/sh\nexec %s -s %s "$@"\n' % (TARGET_PYTHON, root / "opt/websense/rproxy/cs/mdlp_rhcs"))
    relay.chmod(0o755)
    moved = tmp_path / "ocf/resource.d/websense/mdlp"
    moved.parent.mkdir(parents=True)
    moved.write_text(text.replace("\nagent=/opt/websense/rproxy/cs/mdlp_rhcs ", "\nagent=%s " % relay, 1))
    moved.chmod(0o755)
    ocf = subprocess.run([str(moved), "frobnicate"], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=str(Path(root, SITELIB))))
    assert ocf.returncode == 3, ocf  # OCF "unimplemented": the front selects OCF codes
    shipped = root / "etc/mdlp_agents/mdlp_rhcs.conf"
    validate = run_installed(root, "opt/websense/rproxy/cs/mdlp_rhcs", "validate-all", "--config", str(shipped))
    assert validate.returncode in (0, 5), validate  # 5: this host lacks the appliance's /sbin/service
    fake.start("PolicyEngine")
    config = tmp_path / "one.conf"
    config.write_text("[agent]\nstate_dir = %s\nsyslog_socket = %s\n[service PolicyEngine]\nprocess = PolicyEngine\n"
                      % (tmp_path / "state", tmp_path / "syslog"))
    status = run_installed(root, "usr/sbin/mdlp_rhcs", "status", env={"MDLP_RHCS_CONF": str(config)})
    assert status.returncode == 0 and status.stdout.startswith("mdlp: running"), status
    fence = run_installed(root, "usr/sbin/fence_mdlp", "-o", "metadata")
    assert fence.returncode == 0, fence.stderr
    (tmp_path / "fence.xml").write_text(fence.stdout)
    check = subprocess.run(["xmllint", "--noout", "--relaxng", RNG, str(tmp_path / "fence.xml")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    noop = run_installed(root, "usr/sbin/fence_mdlp", "-o", "status", "-n", "node2",
                         env={"MDLP_FENCE_CONF": str(root / "etc/mdlp_agents/fence_mdlp.conf")})
    assert noop.returncode == 0 and "NOTHING WAS FENCED" in noop.stderr, noop
    # (docs: /usr/share/doc/mdlp-agents on EL, mdlp-agents-VERSION with Debian's rpm macros)
    [example] = (root / "usr/share/doc").glob("mdlp-agents*/cluster-2node.toml")
    cluster = run_installed(root, "usr/sbin/mdlp-cluster", "render", "rhcs", str(example))
    assert cluster.returncode == 0 and '<cluster config_version="1" name="mobile-cs">' in cluster.stdout, cluster


def test_uninstall_leaves_only_the_edited_config(built, tmp_path):
    rpm_file, _, _ = built
    root = tmp_path / "root"
    root.mkdir()
    rpm(root, "-i", str(rpm_file))
    conf = root / "etc/mdlp_agents/mdlp_rhcs.conf"
    conf.write_text(conf.read_text() + "\n# edited by the admin\n")
    rpm(root, "-e", "mdlp-agents")
    assert files_under(root) == {"etc/mdlp_agents/mdlp_rhcs.conf.rpmsave"}
    assert "edited by the admin" in (root / "etc/mdlp_agents/mdlp_rhcs.conf.rpmsave").read_text()
    assert not (root / "opt/websense").exists() and not (root / "usr/lib/ocf").exists()  # no empty dirs of ours


def test_upgrade_keeps_the_edited_config(built, tmp_path):
    rpm_v1, _, _ = built
    tree = source_copy(tmp_path / "v2")
    version = _version(REPO)
    major, minor, patch = version.split(".")
    new_version = "%s.%s.%d" % (major, minor, int(patch) + 1)
    version_file = tree / VERSION_FILE
    version_file.write_text(version_file.read_text().replace('"%s"' % version, '"%s"' % new_version))
    packaged = tree / "etc/mdlp_rhcs.conf"
    packaged.write_text(packaged.read_text() + "\n# v2 changed the packaged default\n")
    rpm_v2, _ = build_rpm(tree, tmp_path / "rpmbuild-v2")
    root = tmp_path / "root"
    root.mkdir()
    rpm(root, "-i", str(rpm_v1))
    conf = root / "etc/mdlp_agents/mdlp_rhcs.conf"
    conf.write_text(conf.read_text() + "\n# edited by the admin\n")
    rpm(root, "-U", str(rpm_v2))
    installed = subprocess.run(["rpm", "--root", str(root), "-q", "mdlp-agents"], capture_output=True, text=True)
    assert installed.stdout.strip().startswith("mdlp-agents-%s-" % new_version)
    assert "edited by the admin" in conf.read_text()
    rpmnew = root / "etc/mdlp_agents/mdlp_rhcs.conf.rpmnew"
    assert rpmnew.exists() and "v2 changed the packaged default" in rpmnew.read_text()
    assert not (root / "etc/mdlp_agents/fence_mdlp.conf.rpmnew").exists()  # unchanged on both sides
    status = run_installed(root, "opt/websense/rproxy/cs/mdlp_rhcs", "--version")
    assert status.returncode == 0 and new_version in status.stdout, status


@pytest.mark.skipif(PLATFORM != "current", reason="a platform row installs the agents with its own pip (noxfile.py)")
def test_wheel_and_sdist_install_in_a_fresh_venv(tmp_path):
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    (wheel,) = dist.glob("mdlp_agents-*-py3-none-any.whl")
    assert list(dist.glob("mdlp_agents-*.tar.gz"))
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True)
    install = subprocess.run([str(venv / "bin/pip"), "install", "-q", "--disable-pip-version-check", str(wheel)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-2000:]
    meta = subprocess.run([str(venv / "bin/mdlp_rhcs"), "meta-data"], capture_output=True, text=True)
    assert meta.returncode == 0 and "<resource-agent" in meta.stdout, meta.stderr
    fence = subprocess.run([str(venv / "bin/fence_mdlp"), "-o", "metadata"], capture_output=True, text=True)
    assert fence.returncode == 0 and '<resource-agent name="fence_mdlp"' in fence.stdout, fence.stderr


def test_launchers_are_tiny_and_scan_no_entry_points(built, tmp_path, fake):
    rpm_file, _, _ = built
    root = tmp_path / "root"
    root.mkdir()
    rpm(root, "-i", str(rpm_file))
    for launcher in ("opt/websense/rproxy/cs/mdlp_rhcs", "usr/sbin/fence_mdlp"):
        code = [line for line in (root / launcher).read_text().splitlines()
                if line.strip() and not line.startswith("#")]
        assert len(code) <= 3, code
    fake.start("PolicyEngine")
    config = tmp_path / "one.conf"
    config.write_text("[agent]\nstate_dir = %s\n[service PolicyEngine]\nprocess = PolicyEngine\n" % (tmp_path / "s"))
    runs = [("opt/websense/rproxy/cs/mdlp_rhcs", ["status"], {"MDLP_RHCS_CONF": str(config)}),
            ("usr/sbin/fence_mdlp", ["-o", "status", "-n", "node2", "--backend", "noop"],
             {"MDLP_FENCE_CONF": str(tmp_path / "none.conf")})]
    for launcher, args, env in runs:
        result = run_installed(root, launcher, *args, env=env, python_flags=("-v",))  # -X importtime: 3.7+
        assert result.returncode == 0, result
        imported = set(re.findall(r"^import '([\w.]+)'", result.stderr, re.M))
        assert "mdlp_agents" in imported  # the trace is real
        assert not {"pkg_resources", "importlib.metadata"} & imported, launcher


def test_launchers_name_the_target_python_without_user_site(built, tmp_path):
    """EL's guidelines: root's tools run `python3 -s` (no ~/.local site-packages)."""
    rpm_file, _, _ = built
    root = tmp_path / "root"
    root.mkdir()
    rpm(root, "-i", str(rpm_file))
    for launcher in ("opt/websense/rproxy/cs/mdlp_rhcs", "usr/sbin/fence_mdlp", "usr/sbin/mdlp-cluster"):
        assert (root / launcher).read_text().splitlines()[0] == "#!/usr/bin/python3 -s", launcher
    assert (root / "usr/lib/tmpfiles.d/mdlp-agents.conf").read_text() == "d /run/mdlp_agents 0755 root root -\n"
    flags = subprocess.run(["rpm", "-qp", "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]", str(rpm_file)],
                           capture_output=True, text=True).stdout
    assert "/run/mdlp_agents g" in flags.splitlines()   # a %ghost
    assert not (root / "run/mdlp_agents").exists()   # %ghost: tmpfs, made at boot or by %post


def test_scriptlets_make_the_run_dir_and_rebuild_the_rgmanager_schema(built, tmp_path):
    """%post makes /run/mdlp_agents now; on an rgmanager node %post and %postun run
    ccs_update_schema so that ccs_config_validate knows fence_mdlp (EL6 builds the cluster.conf
    schema from the installed fence agents' metadata).  Run in a private mount namespace with a
    fresh /run, with a recording ccs_update_schema on the PATH, then without one."""
    rpm_file, _, _ = built
    scripts = {}
    for tag in ("POSTIN", "POSTUN"):
        scripts[tag] = subprocess.run(["rpm", "-qp", "--qf", "%%{%s}" % tag, str(rpm_file)], capture_output=True,
                                      text=True, check=True).stdout
    stub = tmp_path / "bin"
    stub.mkdir()
    record = tmp_path / "ccs.log"
    (stub / "ccs_update_schema").write_text("#!/bin/sh\necho \"ccs_update_schema $*\" >> %s\n" % record)
    (stub / "ccs_update_schema").chmod(0o755)
    for path_dirs, expect in ((str(stub) + ":/usr/sbin:/usr/bin:/sbin:/bin", "ccs_update_schema \n"),
                              ("/usr/sbin:/usr/bin:/sbin:/bin", "")):
        if record.exists():
            record.unlink()
        for tag in ("POSTIN", "POSTUN"):
            check = "test -d /run/mdlp_agents && stat -c %a /run/mdlp_agents" if tag == "POSTIN" else "true"
            result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                     'mount -t tmpfs none /run && sh -e -c "$1" && %s' % check, "sh",
                                     scripts[tag]], env={"PATH": path_dirs}, capture_output=True, text=True,
                                    timeout=30)
            assert result.returncode == 0, (tag, result)
            if tag == "POSTIN":
                assert result.stdout.strip() == "755", result
        assert (record.read_text() if record.exists() else "") == expect * 2
