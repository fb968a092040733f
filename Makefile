# make rpm: SRPM and RPM from the project's sdist, with the rpmbuild on this machine.
PYTHON ?= $(shell [ -x /opt/mdlp-agents/venv/bin/python ] && echo /opt/mdlp-agents/venv/bin/python || echo python3)
VERSION := $(shell sed -n 's/^version *= *//p' setup.cfg)
TOPDIR ?= $(CURDIR)/build/rpm
# where rpm's database does not know the build host's packages (Debian), skip the BuildRequires check
RPMBUILD_FLAGS ?= $(shell rpm -q rpm >/dev/null 2>&1 || echo --nodeps)

.PHONY: rpm sdist rpmlint clean
sdist:
	$(PYTHON) -m build --sdist --outdir $(TOPDIR)/SOURCES .

rpm: sdist
	mkdir -p $(TOPDIR)/SPECS
	{ echo "%global pkg_version $(VERSION)"; cat packaging/rpm/mdlp-agents.spec; } > $(TOPDIR)/SPECS/mdlp-agents.spec
	rpmbuild $(RPMBUILD_FLAGS) --define "_topdir $(TOPDIR)" -ba $(TOPDIR)/SPECS/mdlp-agents.spec
	@ls $(TOPDIR)/RPMS/noarch/*.rpm $(TOPDIR)/SRPMS/*.rpm

rpmlint:
	rpmlint -c packaging/rpm/rpmlint.toml -r packaging/rpm/rpmlintrc $(TOPDIR)/RPMS/noarch/*.rpm $(TOPDIR)/SRPMS/*.rpm $(TOPDIR)/SPECS/mdlp-agents.spec

clean:
	rm -rf build dist *.egg-info
