# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nox entry point for antsibull-nox: the sessions are configured in antsibull-nox.toml.

`tests/run-tests.sh nox` runs them with `nox --no-venv`, in the project's pinned virtualenv;
CONTRIBUTING.md says which sessions are used and why.
"""

import sys

import nox

try:
    import antsibull_nox
except ImportError:
    print("noxfile.py needs antsibull-nox in nox's Python environment (requirements-dev.txt).")
    sys.exit(1)

antsibull_nox.load_antsibull_nox_toml()

if __name__ == "__main__":
    nox.main()
