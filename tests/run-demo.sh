#!/usr/bin/env bash
# The collection's main job, on a fresh machine: start the bundled Stability API simulator, show
# the account and the credits of each of its organizations, then run the CI pre-flight check.
#
#   tests/run-demo.sh                                   # passes (above 10 credits), warns below 1000
#   tests/run-demo.sh -e stability_min_credits=5000     # fails, naming the organization below it
#
# Extra arguments go to `ansible-playbook stabilityai.platform.preflight`. It builds the same
# virtualenv as tests/run-tests.sh (STABILITY_VENV overrides where).
set -euo pipefail

# shellcheck source=tests/run-tests.sh
source "$(dirname "${BASH_SOURCE[0]}")/run-tests.sh"

demo_cleanup() {
  if [[ -n ${DEMO_DIR:-} ]]; then
    python "$REPO_ROOT/tests/simulator/launcher.py" stop "$DEMO_DIR/simulator"
    rm -rf "$DEMO_DIR"
  fi
}

demo_usage() {
  cat <<'EOF'
usage: tests/run-demo.sh [ANSIBLE-PLAYBOOK-OPTION...]
       tests/run-demo.sh -h | --help

Starts the bundled Stability API simulator on a free loopback port, shows the demo account and the
credits of each of its organizations, then runs the CI pre-flight check
(ansible-playbook stabilityai.platform.preflight) against it, with stability_min_credits=10 and
stability_warn_below=1000 for org-alice-studio and org-alice-lab. Needs Python 3.11 and access to
PyPI for its virtualenv (the one of tests/run-tests.sh; STABILITY_VENV overrides where).

Options after the script name go to ansible-playbook and override those, for example:
  tests/run-demo.sh -e stability_min_credits=5000     # fails, naming the organization below it
EOF
}

demo_main() {
  case ${1:-} in
    -h | --help)
      demo_usage
      return 0
      ;;
  esac
  cd "$REPO_ROOT"
  setup_toolchain

  DEMO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/stability-demo.XXXXXX")
  trap demo_cleanup EXIT
  mkdir -p "$DEMO_DIR/collections/ansible_collections/$COLLECTION_NAMESPACE"
  ln -s "$REPO_ROOT" "$DEMO_DIR/collections/ansible_collections/$COLLECTION_NAMESPACE/$COLLECTION_NAME"
  export ANSIBLE_COLLECTIONS_PATH=$DEMO_DIR/collections
  export STABILITY_CACHE_DIR=$DEMO_DIR/cache
  # The playbooks target the implicit localhost on purpose: no inventory to parse, nothing to warn about.
  export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false

  STABILITY_API_URL=$(python tests/simulator/launcher.py start "$DEMO_DIR/simulator")
  # The simulator's demo account: a fake key, never a real one.
  export STABILITY_API_URL STABILITY_API_KEY=sk-sim-alice-64Es19knE59ROToV

  ansible-playbook tests/demo/demo.yml
  ansible-playbook stabilityai.platform.preflight \
    -e stability_min_credits=10 -e stability_organizations=org-alice-studio,org-alice-lab -e stability_warn_below=1000 "$@"
}

demo_main "$@"
