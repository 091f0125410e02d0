# shellcheck shell=bash
# Sourced by the runme.sh targets:
#
#   work_dir="$(mktemp -d)"
#   source ../setup_simulator/files/simulator.sh
#   trap 'stop_simulator "${work_dir}"' EXIT
#   start_simulator "${work_dir}" [simulator options...]
#
# start_simulator starts the collection's simulator with tests/simulator/launcher.py, which keeps
# its url (http://127.0.0.1:PORT, or https:// with --tls-cert), port, pid and log files in the
# directory; read the URL from DIR/url. stop_simulator stops it and removes the directory.
#
# Most targets run as Alice, the default fixture's account:
#
#   work_dir="$(mktemp -d)"
#   source ../setup_simulator/files/simulator.sh
#   start_simulator_as_alice "${work_dir}" [simulator options...]
#
# starts the simulator in the directory, stopped (and the directory removed) at exit, and exports
# its URL and Alice's key as STABILITY_API_URL and STABILITY_API_KEY.

simulator_launcher() {
    "${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}" \
        "${ANSIBLE_COLLECTIONS_PATH%%:*}/ansible_collections/stabilityai/platform/tests/simulator/launcher.py" "$@"
}

start_simulator() {
    simulator_launcher start "$@" >/dev/null
}

stop_simulator() {
    simulator_launcher stop "$1"
    rm -rf "$1"
}

start_simulator_as_alice() {
    # shellcheck disable=SC2064  # expanded now, to this call's directory
    trap "stop_simulator $(printf %q "$1")" EXIT
    start_simulator "$@"
    STABILITY_API_URL="$(cat "$1/url")"
    export STABILITY_API_URL
    export STABILITY_API_KEY=sk-sim-alice-64Es19knE59ROToV
}
