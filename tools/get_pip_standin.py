#!/usr/bin/env python
"""Offline stand-in for ansible-test's ``get-pip`` bootstrap script.

ansible-test bootstraps pip into the empty virtual environments it creates
(sanity, ``--venv``) by downloading ``get-pip-<ver>.py`` from
ci-files.testing.ansible.com, which is not reachable from air-gapped machines
(upstream ansible/ansible#77304).  It first looks for a cached copy at
``~/.ansible/test/cache/get_pip_<ver>.py``; tests/run-tests.sh copies this file
there.

ansible-test runs the script as ``__main__`` (via runpy) with arguments such as
``--disable-pip-version-check pip==24.2 --no-setuptools --no-wheel``.  This
stand-in:

1. runs ``python -m ensurepip`` in a *subprocess*: run in-process, ensurepip
   blanks pip's configuration (PIP_CONFIG_FILE=os.devnull), so a later pip in
   this process would ignore the site's pip.conf (certificates, index mirror);
2. runs ``python -m pip install`` with the given arguments, dropping the
   get-pip-only options ``--no-setuptools`` and ``--no-wheel`` that
   ``pip install`` does not understand.
"""

from __future__ import annotations

import subprocess
import sys

GET_PIP_ONLY_OPTIONS = frozenset(('--no-setuptools', '--no-wheel'))


def main(argv: list[str]) -> int:
    """Bootstrap pip into the current interpreter, then install the requested packages."""
    args = [arg for arg in argv if arg not in GET_PIP_ONLY_OPTIONS]

    result = subprocess.run(
        [sys.executable, '-m', 'ensurepip', '--default-pip'],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )

    if result.returncode:
        sys.stdout.write(result.stdout.decode(errors='replace'))
        return result.returncode

    if not any(not arg.startswith('-') for arg in args):
        return 0  # nothing to install beyond the bundled pip

    return subprocess.run([sys.executable, '-m', 'pip', 'install'] + args, check=False).returncode


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
