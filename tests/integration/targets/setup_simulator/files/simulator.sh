# shellcheck shell=bash
# Sourced by the runme.sh targets:
#
#   work_dir="$(mktemp -d)"
#   source ../setup_simulator/files/simulator.sh
#   trap 'stop_simulator "${work_dir}"' EXIT
#   start_simulator "${work_dir}" [simulator options...]
#
# start_simulator starts the collection's simulator in the background with its port, pid and log
# files in the directory, and writes its URL to DIR/url (http://127.0.0.1:PORT, or https:// with
# --tls-cert). stop_simulator stops it and removes the directory.

start_simulator() {
    local dir="$1" scheme=http
    shift
    case " $* " in *" --tls-cert "*) scheme=https ;; esac
    "${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}" \
        "${ANSIBLE_COLLECTIONS_PATH%%:*}/ansible_collections/stabilityai/platform/tests/simulator/stability_simulator.py" \
        --daemon --lifetime 600 --port-file "${dir}/port" --pid-file "${dir}/pid" --log-file "${dir}/simulator.log" "$@"
    printf '%s://127.0.0.1:%s' "${scheme}" "$(cat "${dir}/port")" >"${dir}/url"
}

stop_simulator() {
    local dir="$1"
    if [ -s "${dir}/pid" ]; then
        kill "$(cat "${dir}/pid")" 2>/dev/null || true
    fi
    rm -rf "${dir}"
}
