#!/usr/bin/env bash
# The collection's main job, on a fresh machine: start the bundled Stability API simulator, show
# the account and the credits of each of its organizations, then run the CI pre-flight check.
#
#   tests/run-demo.sh                                   # passes (above 10 credits), warns below 1000
#   tests/run-demo.sh -e stability_min_credits=5000     # fails, naming the organization below it
#
# Extra arguments go to `ansible-playbook stabilityai.platform.preflight`. It installs only what it
# runs, ansible-core (pinned by tests/requirements/; the collection needs nothing else), into its own
# virtualenv .venv-demo (STABILITY_DEMO_VENV overrides where), and keeps Ansible's and the collection's
# state in a temporary folder it removes.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

usage() {
  cat <<'EOF'
usage: tests/run-demo.sh [ANSIBLE-PLAYBOOK-OPTION...]
       tests/run-demo.sh -h | --help

Starts the bundled Stability API simulator on a free loopback port, shows the demo account and the
credits of each of its organizations, then runs the CI pre-flight check
(ansible-playbook stabilityai.platform.preflight) against it, with stability_min_credits=10 and
stability_warn_below=1000 for org-alice-studio and org-alice-lab. Needs Python 3.11 or newer and
access to PyPI for its virtualenv (.venv-demo: ansible-core; STABILITY_DEMO_VENV overrides
where).

Options after the script name go to ansible-playbook and override those, for example:
  tests/run-demo.sh -e stability_min_credits=5000     # fails, naming the organization below it
EOF
}

case ${1:-} in
  -h | --help)
    usage
    exit 0
    ;;
esac

cd "$repo"
# The newest ansible-core line this machine runs, on its Python, with that line's pins (tools/harness.py).
read -r line python < <(python3 tools/harness.py chosen)
venv=${STABILITY_DEMO_VENV:-$repo/.venv-demo}
constraints=tests/requirements/ansible-core-$line.txt
if ! "$venv/bin/python" -c 'import ansible' 2>/dev/null ||
  [[ $(cat "$venv/.stamp" 2>/dev/null) != "$python $(sha256sum <"$constraints")" ]]; then
  echo "installing ansible-core $line into $venv" >&2
  "$python" -m venv --clear "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c "$constraints" ansible-core
  printf '%s\n' "$python $(sha256sum <"$constraints")" >"$venv/.stamp"
fi
export PATH=$venv/bin:$PATH

demo_dir=$(mktemp -d "${TMPDIR:-/tmp}/stability-demo.XXXXXX")
cleanup() {
  python "$repo/tests/simulator/launcher.py" stop "$demo_dir/simulator" || true
  rm -rf "$demo_dir"
}
trap cleanup EXIT
mkdir -p "$demo_dir/collections/ansible_collections/stabilityai"
ln -s "$repo" "$demo_dir/collections/ansible_collections/stabilityai/platform"
unset ANSIBLE_COLLECTIONS_PATHS ANSIBLE_CONFIG
# Ansible's own state (~/.ansible) and the collection's cache and rate-limit state (~/.cache/stabilityai.platform)
# stay in demo_dir.
export ANSIBLE_COLLECTIONS_PATH=$demo_dir/collections ANSIBLE_HOME=$demo_dir/ansible
export STABILITY_CACHE_DIR=$demo_dir/cache XDG_CACHE_HOME=$demo_dir/cache
# ansible-core refuses to run without a UTF-8 locale.
case "${LC_ALL:-${LC_CTYPE:-${LANG:-}}}" in
  *[Uu][Tt][Ff]-8* | *[Uu][Tt][Ff]8*) ;;
  *) export LC_ALL=C.UTF-8 ;;
esac
# The playbooks target the implicit localhost on purpose: no inventory to parse, nothing to warn about.
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false

STABILITY_API_URL=$(python tests/simulator/launcher.py start "$demo_dir/simulator")
# The simulator's demo account: a fake key, never a real one.
export STABILITY_API_URL STABILITY_API_KEY=sk-sim-alice-64Es19knE59ROToV

ansible-playbook tests/demo/demo.yml
ansible-playbook stabilityai.platform.preflight \
  -e stability_min_credits=10 -e stability_organizations=org-alice-studio,org-alice-lab -e stability_warn_below=1000 "$@"
