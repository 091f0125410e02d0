#!/usr/bin/env bash
# What a server or an organization's name says is data: an account whose organizations are named
# to break Markdown and terminals, and an API error whose message is a Markdown link and echoes
# pieces of the key. Through the module, the lookup, the credit_recap callback (terminal recap,
# report, ledger, GitHub step summary rendered with cmark-gfm) and the event source: no markup or
# control character from the server, no 8 characters of the key in a row.
set -eux

work_dir="$(mktemp -d)"
# shellcheck source=../setup_simulator/files/simulator.sh
source ../setup_simulator/files/simulator.sh
trap 'stop_simulator "${work_dir}"' EXIT

python="${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}"
collection_root="${ANSIBLE_COLLECTIONS_PATH%%:*}/ansible_collections/stabilityai/platform"
"${python}" hostile.py fixture "${collection_root}/tests/simulator/fixtures/default.json" "${work_dir}"
start_simulator "${work_dir}" --fixture "${work_dir}/fixture.json"
sim_url="$(cat "${work_dir}/url")"
set +x  # the key stays out of this script's own trace
STABILITY_API_KEY="$(cat "${work_dir}/key")"
export STABILITY_API_KEY
set -x
export STABILITY_API_URL="${sim_url}"
export ANSIBLE_CALLBACKS_ENABLED=stabilityai.platform.credit_recap
export STABILITY_RECAP_ORGANIZATIONS=all
export STABILITY_LEDGER="${work_dir}/ledger.jsonl"
export STABILITY_RECAP_REPORT="${work_dir}/report.json"
export GITHUB_STEP_SUMMARY="${work_dir}/summary.md"
export HOSTILE_RESULTS="${work_dir}/results.json"
export ANSIBLE_NOCOLOR=1

ansible-playbook hostile.yml -v "$@" >"${work_dir}/output.txt" 2>&1 || { cat "${work_dir}/output.txt"; exit 1; }
"${python}" hostile.py terminal "${work_dir}/output.txt"
"${python}" hostile.py summary "${work_dir}/summary.md"

# The event source: readings of both organizations, then the 401 again.
"${python}" hostile.py events "${sim_url}"
"${python}" hostile.py secrets "${work_dir}/output.txt" "${work_dir}/summary.md" "${work_dir}/report.json" \
    "${work_dir}/ledger.jsonl" "${work_dir}/results.json"
