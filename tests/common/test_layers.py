"""Imports run downhill: common knows no tool; the agents (rhcs, fence) know no cluster module and not
each other; in mdlp-cluster, only stacks/ runs or reads a cluster manager's tools and formats.
Read from the sources (every import statement, at any depth of a function), so it stays true."""

import ast
import re

import pytest
from helpers import REPO

pytestmark = pytest.mark.inprocess
PACKAGE = REPO / "mdlp_agents"


def _imports(path):
    """The mdlp_agents modules PATH imports, resolved to dotted names."""
    module = ".".join(path.relative_to(REPO).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    if path.name == "__init__.py":
        module = package
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("mdlp_agents"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.startswith("mdlp_agents"):
                found.add(name)
                found.update("%s.%s" % (name, alias.name) for alias in node.names)
    return module, found


def _graph():
    return dict(_imports(path) for path in sorted(PACKAGE.rglob("*.py")))


def _under(name, package):
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("layer,forbidden", [
    ("mdlp_agents.common", ("mdlp_agents.rhcs", "mdlp_agents.fence", "mdlp_agents.cluster", "mdlp_agents.manpages")),
    ("mdlp_agents.rhcs", ("mdlp_agents.cluster", "mdlp_agents.fence", "mdlp_agents.manpages")),
    ("mdlp_agents.fence", ("mdlp_agents.cluster", "mdlp_agents.rhcs", "mdlp_agents.manpages")),
])
def test_imports_run_downhill(layer, forbidden):
    uphill = sorted("%s -> %s" % (module, name) for module, names in _graph().items() if _under(module, layer)
                    for name in names if any(_under(name, f) for f in forbidden))
    assert not uphill, uphill


def test_no_import_circle_between_packages():
    """Between the packages (common, rhcs, fence, cluster and its parts), the graph has no circle."""
    def package(name):
        """common, rhcs, fence, manpages; in cluster each part (stacks, doctor, cli ...; its __init__ too)."""
        parts = name.split(".")
        if parts[1:2] == ["cluster"]:
            return "mdlp_agents.cluster." + (parts[2] if len(parts) > 2 else "__init__")
        return ".".join(parts[:2])
    graph = _graph()
    known = {package(m) for m in graph}
    edges = {}
    for module, names in graph.items():
        for name in names:
            a, b = package(module), package(name)
            if a != b and b in known:
                edges.setdefault(a, set()).add(b)
    seen, stack = set(), []

    def visit(node):
        if node in stack:
            raise AssertionError("import circle: %s" % " -> ".join(stack[stack.index(node):] + [node]))
        if node in seen:
            return
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            visit(nxt)
        stack.pop()
        seen.add(node)

    for node in sorted(edges):
        visit(node)


MANAGER_TOOLS = re.compile(r'"(crm_mon|cibadmin|crm_resource|stonith_admin|crm_node|clustat|clusvcadm|fence_node|'
                           r'atrm|corosync-cfgtool)"')


def test_only_the_stacks_run_the_managers_tools():
    """The seam: a manager's tool named in a command anywhere but cluster/stacks/ is knowledge leaking."""
    leaks = []
    for path in sorted((PACKAGE / "cluster").rglob("*.py")):
        if "stacks" in path.parts or path.name == "cli.py":   # cli.py: help texts name them for the admin
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if MANAGER_TOOLS.search(line.split("#")[0]):
                leaks.append("%s:%d: %s" % (path.relative_to(REPO), number, line.strip()))
    assert not leaks, leaks


@pytest.mark.parametrize("limit,kind", [(400, "lines in a module")])
def test_modules_stay_small(limit, kind):
    big = ["%s: %d" % (p.relative_to(REPO), len(p.read_text().splitlines())) for p in sorted(PACKAGE.rglob("*.py"))
           if len(p.read_text().splitlines()) > limit]
    assert not big, big


def test_functions_stay_short():
    """No function of more than ~60 lines (its body, docstring included)."""
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.body[-1].end_lineno - node.lineno + 1 if hasattr(node.body[-1], "end_lineno") else 0
                if length > 65:
                    long.append("%s:%d %s (%d lines)" % (path.relative_to(REPO), node.lineno, node.name, length))
    assert not long, long


def test_the_flat_layout_shim_still_works_and_says_it_is_old():
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import importlib

        import mdlp_agents.fence_backends as shim
        importlib.reload(shim)
    from mdlp_agents.fence.backends import FenceBackend
    assert shim.FenceBackend is FenceBackend
    assert any(issubclass(w.category, DeprecationWarning) and "mdlp_agents.fence.backends" in str(w.message)
               for w in caught), [str(w.message) for w in caught]


def test_paths_are_named_once():
    """A path the tools share is spelled in common/paths.py and nowhere else in the code."""
    spelled = re.compile(r'"(/etc/mdlp_agents/[\w.]+|/etc/cluster/cluster\.conf|/etc/corosync/corosync\.conf|'
                         r'/var/lib/pacemaker/cib/cib\.xml|/opt/websense/rproxy/cs/mdlp_rhcs|/run/mdlp_agents)"')
    again = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "paths.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if spelled.search(code) and not code.strip().startswith(('"', "'", '".', "'.")):
                again.append("%s:%d: %s" % (path.relative_to(REPO), number, line.strip()))
    assert not again, again


def _marks(path):
    """The marks a test module sets for all its tests (pytestmark = pytest.mark.X, or a list of them)."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "pytestmark" for t in node.targets):
            found.update(n.attr for n in ast.walk(node.value) if isinstance(n, ast.Attribute)
                         and n.attr not in ("mark", "skipif"))
    return found


@pytest.mark.parametrize("path", sorted((REPO / "tests").rglob("test_*.py")), ids=lambda p: p.name)
def test_the_suffix_says_the_kind(path):
    """test_x.py: in-process (the package in pytest's own interpreter); test_x_cli.py: the installed
    tools as real processes, no cluster; test_x_lab.py: real clusters and harnesses (marked cluster)."""
    marks = _marks(path)
    if path.stem.endswith("_lab"):
        assert "cluster" in marks, marks
    elif path.stem.endswith("_cli"):
        assert not {"cluster", "inprocess"} & marks, marks
    else:
        assert "inprocess" in marks, marks
