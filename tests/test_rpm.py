"""The RPM: built with rpmbuild from the sdist, installed into scratch roots with rpm,
upgraded and removed; the wheel installed into a fresh venv."""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import REPO

SITELIB = sysconfig.get_path("purelib", "posix_prefix", vars={"base": "/usr", "platbase": "/usr"}).lstrip("/")
RNG = "/usr/share/cluster/relaxng/metadata.rng"


def _version(tree):
    for line in (tree / "setup.cfg").read_text().splitlines():
        if line.startswith("version"):
            return line.split("=", 1)[1].strip()
    raise AssertionError("no version in setup.cfg")


def build_rpm(tree, topdir):
    result = subprocess.run(["make", "-C", str(tree), "rpm", "PYTHON=%s" % sys.executable, "TOPDIR=%s" % topdir],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (rpm,) = Path(topdir, "RPMS", "noarch").glob("mdlp-agents-*.noarch.rpm")
    (srpm,) = Path(topdir, "SRPMS").glob("mdlp-agents-*.src.rpm")
    return rpm, srpm


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if not shutil.which("rpmbuild"):
        pytest.fail("rpmbuild is not installed: run sh tools/bootstrap test")
    topdir = tmp_path_factory.mktemp("rpmbuild")
    return build_rpm(REPO, topdir) + (topdir,)


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


def run_installed(root, program, *args, env=None):
    """An installed launcher, run with the host's /usr/bin/python3 and the root's sitelib."""
    environ = dict(os.environ, PYTHONPATH=str(Path(root, SITELIB)))
    environ.pop("MDLP_RHCS_CONF", None)
    environ.update(env or {})
    return subprocess.run([str(Path(root, program))] + list(args), capture_output=True, text=True, env=environ,
                          timeout=60)


def test_rpm_contents(built):
    rpm_file, srpm, _ = built
    listing = subprocess.run(["rpm", "-qlp", str(rpm_file)], capture_output=True, text=True).stdout.split()
    for path in ("/opt/websense/rproxy/cs/mdlp_rhcs", "/usr/sbin/fence_mdlp", "/usr/sbin/mdlp_rhcs",
                 "/usr/lib/ocf/resource.d/websense/mdlp", "/etc/mdlp_agents/mdlp_rhcs.conf",
                 "/etc/mdlp_agents/fence_mdlp.conf", "/usr/share/man/man8/mdlp_rhcs.8.gz",
                 "/usr/share/man/man8/fence_mdlp.8.gz", "/usr/sbin/mdlp-cluster",
                 "/usr/share/man/man8/mdlp-cluster.8.gz", "/" + SITELIB + "/mdlp_agents/rhcs_cli.py",
                 "/" + SITELIB + "/mdlp_agents/fence_backends/ipmi.py"):
        assert path in listing, path
    # bytecode ships: root's environment may forbid writing it, and the cluster runs status every 30 s
    assert any(p.startswith("/" + SITELIB + "/mdlp_agents/__pycache__/rhcs_cli.cpython-") for p in listing)
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
    assert {"python3", "python3-psutil", "python3-click"} <= set(requires.split())
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
    # through the OCF link (a relative symlink that resolves inside the root)
    ocf = run_installed(root, "usr/lib/ocf/resource.d/websense/mdlp", "frobnicate")
    assert ocf.returncode == 3, ocf  # OCF "unimplemented": the link selects OCF codes
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
    tree = tmp_path / "v2"
    shutil.copytree(REPO, tree, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info",
                                                               "__pycache__", ".pytest_cache"))
    version = _version(REPO)
    major, minor, patch = version.split(".")
    new_version = "%s.%s.%d" % (major, minor, int(patch) + 1)
    setup_cfg = tree / "setup.cfg"
    setup_cfg.write_text(setup_cfg.read_text().replace("version = %s" % version, "version = %s" % new_version))
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
        code = [l for l in (root / launcher).read_text().splitlines() if l.strip() and not l.startswith("#")]
        assert len(code) <= 3, code
    fake.start("PolicyEngine")
    config = tmp_path / "one.conf"
    config.write_text("[agent]\nstate_dir = %s\n[service PolicyEngine]\nprocess = PolicyEngine\n" % (tmp_path / "s"))
    runs = [("opt/websense/rproxy/cs/mdlp_rhcs", ["status"], {"MDLP_RHCS_CONF": str(config)}),
            ("usr/sbin/fence_mdlp", ["-o", "status", "-n", "node2", "--backend", "noop"],
             {"MDLP_FENCE_CONF": str(tmp_path / "none.conf")})]
    for launcher, args, env in runs:
        result = run_installed(root, launcher, *args, env=dict(env, PYTHONPROFILEIMPORTTIME="1"))
        assert result.returncode == 0, result
        imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "import time:" in line}
        assert "mdlp_agents" in imported  # the profile is real
        assert not {"pkg_resources", "importlib.metadata"} & imported, launcher
