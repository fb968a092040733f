# make rpm: SRPM and RPM from the project's sdist, with the rpmbuild on this machine.
#   make rpm                          for this host's python3 (build/rpm)
#   make rpm EL=8 PYTHON3=/path/py    for EL8 (build/rpm/el8): that python3 builds and picks the
#                                     sitelib and python(abi); the launchers name /usr/bin/python3
#   (nox -s rpm-el8 / rpm-el9 makes the EL tool chains on Debian and runs this.)
PYTHON ?= $(shell [ -x /opt/mdlp-agents/venv/bin/python ] && echo /opt/mdlp-agents/venv/bin/python || echo python3)
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' mdlp_agents/__init__.py)
EL ?=
ifeq ($(EL),)
TOPDIR ?= $(CURDIR)/build/rpm
RPM_DEFINES =
else
TOPDIR ?= $(CURDIR)/build/rpm/el$(EL)
PYTHON3 ?= /usr/bin/python3
RPM_DEFINES = --define "dist .el$(EL)" --define "__python3 $(PYTHON3)" --define "python3_launcher /usr/bin/python3"
endif
# where rpm's database does not know the build host's packages (Debian), skip the BuildRequires check
RPMBUILD_FLAGS ?= $(shell rpm -q rpm >/dev/null 2>&1 || echo --nodeps)

.PHONY: rpm sdist rpmlint clean
sdist:
	$(PYTHON) -m build --sdist --outdir $(TOPDIR)/SOURCES .

rpm: sdist
	mkdir -p $(TOPDIR)/SPECS
	{ echo "%global pkg_version $(VERSION)"; cat packaging/rpm/mdlp-agents.spec; } > $(TOPDIR)/SPECS/mdlp-agents.spec
	rpmbuild $(RPMBUILD_FLAGS) --define "_topdir $(TOPDIR)" $(RPM_DEFINES) -ba $(TOPDIR)/SPECS/mdlp-agents.spec
	@ls $(TOPDIR)/RPMS/noarch/*.rpm $(TOPDIR)/SRPMS/*.rpm

rpmlint:
	rpmlint -c packaging/rpm/rpmlint.toml -r packaging/rpm/rpmlintrc $(TOPDIR)/RPMS/noarch/*.rpm $(TOPDIR)/SRPMS/*.rpm $(TOPDIR)/SPECS/mdlp-agents.spec

clean:
	rm -rf build dist *.egg-info
