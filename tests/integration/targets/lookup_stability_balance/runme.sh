#!/usr/bin/env bash
# Runs the lookup against the collection's simulator: terms, thresholds, the cache (hits, expiry,
# off, private files), a 200-host play that must make exactly one API request, and two runs in a
# row that must not share a reading (unless cache_scope is user).
set -eux

work_dir="$(mktemp -d)"
# shellcheck source=../setup_simulator/files/simulator.sh
source ../setup_simulator/files/simulator.sh
start_simulator_as_alice "${work_dir}"

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

# A fresh reading per run: run 1 reads 100 and spends to 40; run 2, started from this shell well
# within cache_ttl, must read 40 and stop at its gate (one request per run).
set_studio() {
    "${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}" -c 'import json, os, sys, urllib.request
body = json.dumps({"organization": "org-alice-studio", "credits": float(sys.argv[1])}).encode()
urllib.request.urlopen(urllib.request.Request(os.environ["STABILITY_API_URL"] + "/_sim/credits", body, {"Content-Type": "application/json"}))' "$1"
}
set_studio 100
ansible-playbook gate_run.yml -e start_credits=100 -e spend_to=40 "$@"
if ansible-playbook gate_run.yml -e start_credits=40 -e spend_to=40 "$@" >"${work_dir}/run2.txt" 2>&1; then
    cat "${work_dir}/run2.txt"
    echo "the second run passed its gate on the first run's reading"
    exit 1
fi
grep -F 'gate: only 40.0 credits left' "${work_dir}/run2.txt"
ansible-playbook count_requests.yml -e expected_balance_requests=2 "$@"

# cache_scope user asks for the old sharing, with its risk: run 2 reuses run 1's reading and passes.
set_studio 100
ansible-playbook gate_run.yml -e start_credits=100 -e spend_to=40 -e stability_cache_scope=user "$@"
ansible-playbook gate_run.yml -e start_credits=100 -e spend_to=40 -e stability_cache_scope=user "$@"
ansible-playbook count_requests.yml -e expected_balance_requests=1 "$@"
