#!/usr/bin/env bash
# The collection's single test command: a bootstrap for the nox sessions of noxfile.py, which hold the steps.
#
#   tests/run-tests.sh                          # the default sessions (all but the opt-in mutation and benchmark)
#   tests/run-tests.sh sanity units             # only these sessions
#   tests/run-tests.sh integration -- bad_input # arguments after -- go to the session (here: one target)
#   tests/run-tests.sh --list                   # the sessions (nox -l)
#
# Needs git, Python 3.11 and access to PyPI; uses Python 3.12/3.13 when present (pyenv's versions folder
# or PATH) for the newest ansible-core line. It installs nox and antsibull-nox (tools/requirements-nox.txt,
# pinned by tools/requirements-lock.txt) into .nox/bootstrap, runs nox, and ends with `N passed, N failed`
# (exit non-zero on any failure). Everything it writes is under .nox/ (CONTRIBUTING.md, "Where the suite writes").
# STABILITY_VENV=DIR runs every session in that ready venv instead (nox --no-venv --no-install; no matrix; docs-check fails).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$repo"
bootstrap=.nox/bootstrap
report=.nox/report.json

case ${1:-} in
  -h | --help)
    sed -n '2,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    exit 0
    ;;
esac

# First line: which ansible-core line and Python the product's tests run on (tools/harness.py chooses).
[[ ${1:-} == --list ]] || python3 tools/harness.py banner

if [[ -n ${STABILITY_VENV:-} ]]; then
  # A ready venv with nox, antsibull-nox and the tools (helpers sharing one machine): no session venvs.
  export PATH=$STABILITY_VENV/bin:$PATH
  nox=("$STABILITY_VENV/bin/nox" --no-venv --no-install)
else
  python=$(python3 tools/harness.py python 3.11)
  stamp=$(cat tools/requirements-nox.txt tools/requirements-lock.txt | sha256sum)
  if [[ ! -x $bootstrap/bin/nox || $(cat "$bootstrap/.stamp" 2>/dev/null) != "$stamp" ]]; then
    echo "installing nox into $bootstrap" >&2
    "$python" -m venv --clear "$bootstrap"
    "$bootstrap/bin/python" -m pip install --disable-pip-version-check \
      -r tools/requirements-nox.txt -c tools/requirements-lock.txt >"$bootstrap.log" 2>&1 ||
      { cat "$bootstrap.log" >&2; echo "run-tests.sh: installing nox failed (log: $bootstrap.log)" >&2; exit 2; }
    printf '%s\n' "$stamp" >"$bootstrap/.stamp"
  fi
  nox=("$bootstrap/bin/nox")
fi

if [[ ${1:-} == --list ]]; then
  exec "${nox[@]}" --list
fi

args=()
(($# == 0)) || [[ $1 == -- ]] || args=(--sessions)
rc=0
rm -f "$report"
"${nox[@]}" --report "$report" "${args[@]}" "$@" </dev/null || rc=$?

# The summary CI reads: one count over the sessions nox ran (a session it could not run counts as failed).
python3 - "$report" "$rc" <<'EOF'
import json, sys
try:
    with open(sys.argv[1]) as handle:
        results = [session['result'] for session in json.load(handle)['sessions']]
except (OSError, ValueError, KeyError):
    results = []
passed = results.count('success')
failed = len(results) - passed
if sys.argv[2] != '0' and not failed:
    failed = 1  # nox stopped before or after its sessions (a bad session name, an error in noxfile.py)
print('%d passed, %d failed' % (passed, failed))
sys.exit(1 if failed else 0)
EOF
