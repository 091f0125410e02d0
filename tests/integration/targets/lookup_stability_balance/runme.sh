#!/usr/bin/env bash
# Runs the lookup against the collection's simulator: terms, thresholds, the cache (hits, expiry,
# off, private files) and a 200-host play that must make exactly one API request.
set -eux

collection_root="${ANSIBLE_COLLECTIONS_PATH%%:*}/ansible_collections/stabilityai/platform"
work_dir="$(mktemp -d)"
python="${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}"

cleanup() {
    if [ -s "${work_dir}/pid" ]; then
        kill "$(cat "${work_dir}/pid")" 2>/dev/null || true
    fi
    rm -rf "${work_dir}"
}
trap cleanup EXIT

"${python}" "${collection_root}/tests/simulator/stability_simulator.py" --daemon --lifetime 600 \
    --port-file "${work_dir}/port" --pid-file "${work_dir}/pid" --log-file "${work_dir}/simulator.log"

STABILITY_API_URL="http://127.0.0.1:$(cat "${work_dir}/port")"
export STABILITY_API_URL
export STABILITY_API_KEY=sk-sim-alice-0000000000000000
export STABILITY_CACHE_DIR="${work_dir}/cache"
export ANSIBLE_FORKS=20

ansible-playbook lookup.yml -e "cache_dir=${STABILITY_CACHE_DIR}" "$@"

printf '%s' "${STABILITY_API_URL}" >"${work_dir}/url"
env -u STABILITY_API_URL -u STABILITY_API_KEY -u STABILITY_CACHE_DIR \
    ansible-playbook templated_vars.yml -e "simulator_url_file=${work_dir}/url" "$@"
ansible-playbook count_requests.yml -e expected_balance_requests=1 "$@"

rm -rf "${STABILITY_CACHE_DIR}"
ansible-playbook -i inventory_200.ini gate_200_hosts.yml "$@"
ansible-playbook count_requests.yml -e expected_balance_requests=1 "$@"
