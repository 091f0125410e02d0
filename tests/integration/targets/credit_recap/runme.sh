#!/usr/bin/env bash
# The credit_recap callback against the collection's simulator: plays that spend, and what the
# callback prints after PLAY RECAP, writes to the JSON report, the ledger and the GitHub step
# summary; the runway from a ledger with history; a failed play; the API failing before the end
# reading (one warning, complete: false, the play's outcome unchanged); two playbooks appending to
# one ledger at once; and a scan of every file it wrote for the key.
set -eux

work_dir="$(mktemp -d)"
# shellcheck source=../setup_simulator/files/simulator.sh
source ../setup_simulator/files/simulator.sh
start_simulator_as_alice "${work_dir}"

python="${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}"
export ANSIBLE_CALLBACKS_ENABLED=stabilityai.platform.credit_recap
export STABILITY_RECAP_ORGANIZATIONS=all
export STABILITY_LEDGER="${work_dir}/ledger.jsonl"
export STABILITY_RECAP_REPORT="${work_dir}/report.json"
export GITHUB_STEP_SUMMARY="${work_dir}/summary.md"
export ANSIBLE_NOCOLOR=1

# A run that spends 25 credits, over three days of history.
"${python}" check_recap.py seed "${STABILITY_LEDGER}"
"${python}" check_recap.py requests "${STABILITY_API_URL}"
ansible-playbook spend.yml -e '{"spend": {"org-alice-studio": 25}}' "$@" >"${work_dir}/spend.txt" 2>&1
"${python}" check_recap.py spend "${work_dir}" "${STABILITY_API_URL}"

# The module reads that ledger: runway in its result, and the runway gates.
env -u ANSIBLE_CALLBACKS_ENABLED ansible-playbook gates.yml "$@"

# The preflight without the callback must exit 2 and print a line matching PATTERN; its output goes to work_dir/NAME.txt.
preflight_fails() {
    local name="$1" pattern="$2" rc=0
    shift 2
    env -u ANSIBLE_CALLBACKS_ENABLED ansible-playbook stabilityai.platform.preflight "$@" >"${work_dir}/${name}.txt" 2>&1 || rc=$?
    test "${rc}" -eq 2
    grep -q "${pattern}" "${work_dir}/${name}.txt"
}

# The preflight playbook with the ledger: a runway column, and a runway threshold that fails.
rc=0
env -u ANSIBLE_CALLBACKS_ENABLED ansible-playbook stabilityai.platform.preflight -e stability_min_credits=0 \
    -e "stability_ledger=${STABILITY_LEDGER}" -e stability_organizations=org-alice-studio,org-alice-lab -e stability_min_runs=100 \
    "$@" >"${work_dir}/preflight.txt" 2>&1 || rc=$?
test "${rc}" -eq 2
"${python}" check_recap.py preflight "${work_dir}"
env -u ANSIBLE_CALLBACKS_ENABLED ansible-playbook stabilityai.platform.preflight -e stability_min_credits=0 \
    -e "stability_ledger=${STABILITY_LEDGER}" -e stability_organizations=org-alice-studio -e stability_min_runs=10 -e stability_min_days=10 "$@"

# The key's default organization (org-alice-studio) has one history however it was recorded and however it is asked for:
# recorded by id (the callback above), read as the default ...
preflight_fails preflight-default "pre-flight failed: Runway below min_runs_left 100: the key's default organization has 60 runs left" \
    -e stability_min_credits=0 -e "stability_ledger=${STABILITY_LEDGER}" -e stability_min_runs=100 "$@"
# ... and recorded without an id (by 1.x), read by id and with all.
"${python}" check_recap.py seed "${work_dir}/legacy.jsonl" null
for organizations in all org-alice-studio; do
    preflight_fails preflight-legacy "pre-flight failed: Runway below min_days_left 1000: org-alice-studio (Alice Studio) has " \
        -e stability_min_credits=0 -e "stability_ledger=${work_dir}/legacy.jsonl" -e "stability_organizations=${organizations}" \
        -e stability_min_runs=10 -e stability_min_days=1000 "$@"
done

# stability_runway_required=true: too little data fails the runway gate instead of warning.
preflight_fails preflight-required "pre-flight failed: Runway unknown for min_runs_left 1 and runway_required is true" \
    -e stability_min_credits=0 -e "stability_ledger=${STABILITY_LEDGER}" -e stability_organizations=org-alice-lab -e stability_min_runs=1 \
    -e stability_runway_required=true "$@"

# The preflight hands stability_organizations to the module's parser: ALL in any case, an empty item refused.
env -u ANSIBLE_CALLBACKS_ENABLED ansible-playbook stabilityai.platform.preflight -e stability_min_credits=0 \
    -e stability_organizations=ALL "$@" >"${work_dir}/preflight-all.txt" 2>&1
grep -q '"org-render-farm  *Render Farm ' "${work_dir}/preflight-all.txt"
preflight_fails preflight-usage "Stability AI pre-flight usage error: stability_organizations has an empty item in 'org-alice-studio,,org-alice-lab'" \
    -e stability_min_credits=0 -e 'stability_organizations=org-alice-studio,,org-alice-lab' "$@"
# The usage error names the variable from the module's invalid_option (data), a gate failure is no usage error.
preflight_fails preflight-usage-warn "Stability AI pre-flight usage error: stability_warn_below must be a number of credits, 0 or more, got 'lots'" \
    -e stability_min_credits=0 -e 'stability_warn_below=lots' "$@"
# A threshold of true (extra vars as JSON keep the boolean) is refused as in every plugin, never read as 1.0.
preflight_fails preflight-usage-true "Stability AI pre-flight usage error: stability_min_credits must be a number of credits, 0 or more, got True" \
    -e '{"stability_min_credits": true}' "$@"
preflight_fails preflight-below "Stability AI pre-flight failed: Credits are below min_credits" -e stability_min_credits=1e12 "$@"
if grep -q "Stability AI pre-flight usage error" "${work_dir}/preflight-below.txt"; then exit 1; fi

# A relative ledger or metrics file would be looked up in (or written to) the collection's own playbooks/ directory,
# where Ansible runs the module: refused as a usage error, before anything is read.
# The value is shown quoted, a line break as \n: the error stays one line.
for variable in stability_ledger stability_metrics_file; do
    rc=0
    env -u ANSIBLE_CALLBACKS_ENABLED ansible-playbook stabilityai.platform.preflight -e stability_min_credits=0 \
        -e "{\"${variable}\": \"relative\\nfile\"}" "$@" >"${work_dir}/preflight-relative.txt" 2>&1 || rc=$?
    test "${rc}" -eq 2
    grep -q "^\[ERROR\]: .*Stability AI pre-flight usage error: ${variable} must be an absolute path (or start with ~), got \"relative\\\\nfile\": " \
        "${work_dir}/preflight-relative.txt"
done

# A play that fails keeps its exit code; the recap is still there.
rc=0
ansible-playbook spend.yml -e fail_on_purpose=true "$@" >"${work_dir}/failed.txt" 2>&1 || rc=$?
test "${rc}" -eq 2
"${python}" check_recap.py failed "${work_dir}"

# The API fails before the end reading: one warning, complete: false, the play still succeeds.
# Options from ansible.cfg this time: organizations from [callback_credit_recap], retries = 0.
ANSIBLE_CONFIG=recap.cfg env -u STABILITY_RECAP_ORGANIZATIONS \
    ansible-playbook spend.yml -e break_api=true "$@" >"${work_dir}/fault.txt" 2>&1
"${python}" check_recap.py clear-faults "${STABILITY_API_URL}"
"${python}" check_recap.py fault "${work_dir}"

# Two playbooks append to one ledger at once.
STABILITY_RECAP_REPORT="${work_dir}/report-1.json" ansible-playbook spend.yml -e '{"spend": {"org-alice-lab": 1}}' "$@" \
    >"${work_dir}/parallel-1.txt" 2>&1 &
first=$!
STABILITY_RECAP_REPORT="${work_dir}/report-2.json" ansible-playbook spend.yml -e '{"spend": {"org-alice-lab": 1}}' "$@" \
    >"${work_dir}/parallel-2.txt" 2>&1 &
second=$!
wait "${first}"
wait "${second}"
"${python}" check_recap.py parallel "${work_dir}"

# The key is in none of the files the callback wrote, nor in what it printed; the scan finds a planted one.
scanned=("${STABILITY_LEDGER}" "${work_dir}/report.json" "${work_dir}/report-1.json" "${work_dir}/report-2.json"
         "${GITHUB_STEP_SUMMARY}" "${work_dir}/spend.txt" "${work_dir}/failed.txt" "${work_dir}/fault.txt")
"${python}" check_recap.py secrets "${STABILITY_API_KEY}" "${scanned[@]}"
printf 'leaked %s\n' "${STABILITY_API_KEY}" >"${work_dir}/planted.txt"
if "${python}" check_recap.py secrets "${STABILITY_API_KEY}" "${work_dir}/planted.txt" 2>/dev/null; then
    echo "the secret scan missed a planted key" >&2
    exit 1
fi
