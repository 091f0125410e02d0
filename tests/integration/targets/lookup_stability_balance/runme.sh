#!/usr/bin/env bash
# Runs the lookup against the collection's simulator: terms, thresholds, the cache (hits, expiry,
# off, private files) and a 200-host play that must make exactly one API request.
set -eux

work_dir="$(mktemp -d)"
# shellcheck source=../setup_simulator/files/simulator.sh
source ../setup_simulator/files/simulator.sh
trap 'stop_simulator "${work_dir}"' EXIT
start_simulator "${work_dir}"

STABILITY_API_URL="$(cat "${work_dir}/url")"
export STABILITY_API_URL
export STABILITY_API_KEY=sk-sim-alice-0000000000000000
export STABILITY_CACHE_DIR="${work_dir}/cache"
export ANSIBLE_FORKS=20

ansible-playbook lookup.yml -e "cache_dir=${STABILITY_CACHE_DIR}" "$@"

env -u STABILITY_API_URL -u STABILITY_API_KEY -u STABILITY_CACHE_DIR \
    ansible-playbook templated_vars.yml -e "simulator_url_file=${work_dir}/url" "$@"
ansible-playbook count_requests.yml -e expected_balance_requests=1 "$@"

# A shared (1777) cache_dir is never changed: the lookup warns (Ansible shows a repeated warning once)
# and reads without a cache.
shared_dir="${work_dir}/shared"
mkdir "${shared_dir}"
chmod 1777 "${shared_dir}"
ansible-playbook shared_cache_dir.yml -e "shared_dir=${shared_dir}" "$@" >"${work_dir}/shared-output.txt" 2>&1 \
    || { cat "${work_dir}/shared-output.txt"; exit 1; }
test "$(tr -s '\n ' '  ' <"${work_dir}/shared-output.txt" \
    | grep -oF "reads without a cache: ${shared_dir} is open to other users (mode 1777); it is left as it is" | wc -l)" -ge 1
ansible-playbook count_requests.yml -e expected_balance_requests=2 "$@"

rm -rf "${STABILITY_CACHE_DIR}"
ansible-playbook -i inventory_200.ini gate_200_hosts.yml "$@"
ansible-playbook count_requests.yml -e expected_balance_requests=1 "$@"
