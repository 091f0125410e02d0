#!/usr/bin/env bash
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The one entry point of the benchmark suite (issue 6):
#
#   tools/benchmarks/run.sh                  # every scenario, simulator latency 100 ms
#   tools/benchmarks/run.sh --latency 0.25   # --help lists every option
#
# It runs benchmark.py in the venv of the `benchmark` nox session (ansible-core, and requests for the
# `imports` scenario only, which compares its import cost with http.client's; pinned by
# tools/requirements-lock.txt), through tests/run-tests.sh, so it works on a fresh clone.
# STABILITY_BENCH_PYTHON=/path/to/python skips that and uses that interpreter, which needs ansible-core
# (and requests for `imports`), and ansible-playbook in its bin directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

for arg in "$@"; do
    case "${arg}" in
        -h | --help) exec "${STABILITY_BENCH_PYTHON:-python3}" "${here}/benchmark.py" --help ;;
    esac
done

if [ -n "${STABILITY_BENCH_PYTHON:-}" ]; then
    exec "${STABILITY_BENCH_PYTHON}" "${here}/benchmark.py" "$@"
fi

exec "${here}/../../tests/run-tests.sh" benchmark -- "$@"
