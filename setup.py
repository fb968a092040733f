"""Classic set-up entry for tool chains that predate PEP 517 (EL8: pip 9, setuptools 39):
the RPM spec's %py3_build/%py3_install run it.  Everything is declared in setup.cfg."""
from setuptools import setup

setup()
