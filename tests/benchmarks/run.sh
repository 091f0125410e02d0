#!/usr/bin/env bash
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The one entry point of the benchmark suite: tests/benchmarks/run.sh [--latency 0.1] [--tasks 20] ...
# (--help lists every option). It runs benchmark.py with $PYTHON, else the repository's .venv, else
# python3; that interpreter needs ansible-core and requests, and its bin directory ansible-playbook.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/../.." && pwd)"
python="${PYTHON:-}"
if [ -z "${python}" ]; then
    if [ -x "${repo}/.venv/bin/python" ]; then
        python="${repo}/.venv/bin/python"
    else
        python="python3"
    fi
fi
exec "${python}" "${here}/benchmark.py" "$@"
