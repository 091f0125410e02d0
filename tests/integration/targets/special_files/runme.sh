#!/usr/bin/env bash
# Paths the collection must refuse without blocking (a FIFO, a directory, a device, a symbolic link,
# a read-only file system), a ledger whose last line has no line break, a ledger another process
# keeps locked, empty environment variables, the upper bounds of timeout and interval, and typos in
# ansible.cfg: through the credit_recap callback, stability_balance_info, the lookup and the
# credit_balance event source. Anything that could hang runs under an outer `timeout`, so that a
# regression fails in a minute instead of holding CI.
set -eux

work_dir="$(mktemp -d)"
# shellcheck source=../setup_simulator/files/simulator.sh
source ../setup_simulator/files/simulator.sh
start_simulator_as_alice "${work_dir}"

python="${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}"
export ANSIBLE_NOCOLOR=1
here="$(pwd)"
limit=60

check() { "${python}" "${here}/check_files.py" "$@"; }
recap() { ANSIBLE_CALLBACKS_ENABLED=stabilityai.platform.credit_recap timeout "${limit}" ansible-playbook "${here}/play.yml" "$@"; }
source_event() { timeout "${limit}" "${python}" "${here}/source.py" "$1"; }
module_case() {  # LEDGER EXPECTED_MESSAGE TIMEOUT [ansible-playbook arguments]
    local extra
    extra="$("${python}" -c 'import json, sys; print(json.dumps(dict(zip(("ledger", "expected", "request_timeout"), sys.argv[1:]))))' "$1" "$2" "$3")"
    shift 3
    timeout "${limit}" ansible-playbook "${here}/module.yml" -e "${extra}" "$@"
}
refused() { printf 'stabilityai.platform.credit_recap: %s: %s is %s, not a regular file; the run itself is not affected' "$1" "$2" "$3"; }

files="${work_dir}/files"
mkdir "${files}" "${files}/directory"
mkfifo "${files}/fifo"
ln -s "${files}/elsewhere" "${files}/link"
fifo="${files}/fifo" directory="${files}/directory" link="${files}/link" device=/dev/full
fifo_kind='a FIFO (named pipe)' directory_kind='a directory' link_kind='a symbolic link (it is not followed)' device_kind='a character device'

# --- the callback: each output refused with one warning, the play unchanged ---------------------
STABILITY_LEDGER="${fifo}" STABILITY_RECAP_REPORT="${directory}" GITHUB_STEP_SUMMARY="${device}" recap "$@" >"${work_dir}/a.txt" 2>&1
check count "${work_dir}/a.txt" 1 "$(refused ledger_path "${fifo}" "${fifo_kind}")" \
    "$(refused report_path "${directory}" "${directory_kind}")" "$(refused GITHUB_STEP_SUMMARY "${device}" "${device_kind}")" 'failed=0'
STABILITY_LEDGER="${link}" STABILITY_RECAP_REPORT="${fifo}" GITHUB_STEP_SUMMARY="${directory}" recap "$@" >"${work_dir}/b.txt" 2>&1
check count "${work_dir}/b.txt" 1 "$(refused ledger_path "${link}" "${link_kind}")" \
    "$(refused report_path "${fifo}" "${fifo_kind}")" "$(refused GITHUB_STEP_SUMMARY "${directory}" "${directory_kind}")" 'failed=0'
STABILITY_LEDGER="${device}" STABILITY_RECAP_REPORT="${link}" GITHUB_STEP_SUMMARY="${fifo}" recap "$@" >"${work_dir}/c.txt" 2>&1
check count "${work_dir}/c.txt" 1 "$(refused ledger_path "${device}" "${device_kind}")" \
    "$(refused report_path "${link}" "${link_kind}")" "$(refused GITHUB_STEP_SUMMARY "${fifo}" "${fifo_kind}")" 'failed=0'
test ! -e "${files}/elsewhere"

# Each fails on its own: a report that is a FIFO costs neither the ledger nor the summary.
STABILITY_LEDGER="${work_dir}/ledger.jsonl" STABILITY_RECAP_REPORT="${fifo}" GITHUB_STEP_SUMMARY="${work_dir}/summary.md" \
    recap "$@" >"${work_dir}/d.txt" 2>&1
check count "${work_dir}/d.txt" 1 "$(refused report_path "${fifo}" "${fifo_kind}")"
check readings "${work_dir}/ledger.jsonl" 2
grep -qF '| org\-alice\-studio \(Alice Studio\) | ' "${work_dir}/summary.md"  # names are escaped in Markdown

# A read-only file system (a bind mount in a user namespace: as root, permission bits would not stop a write).
mkdir "${work_dir}/readonly"
# shellcheck disable=SC2016  # $1 and $@ are the inner shell's
unshare -rm sh -c 'mount --bind -o ro "$1" "$1" && shift && exec "$@"' sh "${work_dir}/readonly" \
    env STABILITY_LEDGER="${work_dir}/readonly/ledger.jsonl" STABILITY_RECAP_REPORT="${work_dir}/readonly/report.json" \
    GITHUB_STEP_SUMMARY="${work_dir}/readonly/summary.md" ANSIBLE_CALLBACKS_ENABLED=stabilityai.platform.credit_recap \
    timeout "${limit}" ansible-playbook "${here}/play.yml" "$@" >"${work_dir}/ro.txt" 2>&1
for option_file in ledger_path:ledger.jsonl report_path:report.json GITHUB_STEP_SUMMARY:summary.md; do
    check count "${work_dir}/ro.txt" 1 "stabilityai.platform.credit_recap: ${option_file%%:*}: ${work_dir}/readonly/${option_file#*:} cannot be opened: Read-only file system; the run itself is not affected"
done
test -z "$(ls -A "${work_dir}/readonly")"

# --- a ledger whose last line has no line break keeps that reading and gets the new ones ---------
check seed "${work_dir}/seeded.jsonl"
STABILITY_LEDGER="${work_dir}/seeded.jsonl" recap "$@" >"${work_dir}/seeded.txt" 2>&1
check absent "${work_dir}/seeded.txt" 'credit_recap: ledger_path' 'skipped 1 line'
check readings "${work_dir}/seeded.jsonl" 3

# --- empty environment variables mean unset (the ledger used to become the current directory) ---
STABILITY_LEDGER='' STABILITY_RECAP_REPORT='' GITHUB_STEP_SUMMARY='' recap "$@" >"${work_dir}/empty.txt" 2>&1
check absent "${work_dir}/empty.txt" 'stabilityai.platform.credit_recap:'
check count "${work_dir}/empty.txt" 1 'STABILITY AI CREDITS' 'failed=0'

# --- the module: refused in one line, within its time bound ------------------------------------
module_case "${fifo}" "ledger_path: ${fifo} is ${fifo_kind}, not a regular file" 5 "$@"
module_case "${directory}" "ledger_path: ${directory} is ${directory_kind}, not a regular file" 5 "$@"

# --- the event source: a reading fails with an error event naming ledger_path; bounds refused ---
source_event "{\"ledger_path\": \"${fifo}\", \"emit\": \"every\", \"interval\": 1}" >"${work_dir}/source-fifo.txt"
check count "${work_dir}/source-fifo.txt" 1 '"kind": "error"' "\"message\": \"ledger_path: ${fifo} is ${fifo_kind}, not a regular file\""
source_event '{"min_credits": 1, "interval": 1e308}' >"${work_dir}/source-interval.txt"
check count "${work_dir}/source-interval.txt" 1 'refused: interval must be a number of seconds greater than 0 and at most 86400, got 1e+308'
source_event '{"min_credits": 1, "timeout": 1e10}' >"${work_dir}/source-timeout.txt"
check count "${work_dir}/source-timeout.txt" 1 'refused: timeout must be a number of seconds greater than 0 and at most 600, got 10000000000.0'

# --- a ledger another process keeps locked: refused after timeout seconds, not waited for forever
locked="${work_dir}/locked.jsonl"
exec 9>"${locked}"
flock -x 9
module_case "${locked}" "ledger_path: ${locked} stayed locked by another process for 2 s" 2 "$@"
ANSIBLE_CONFIG="${here}/locked.cfg" STABILITY_LEDGER="${locked}" recap "$@" >"${work_dir}/locked.txt" 2>&1
check count "${work_dir}/locked.txt" 1 \
    "stabilityai.platform.credit_recap: ledger_path: ${locked} stayed locked by another process for 2 s; the run itself is not affected"
source_event "{\"ledger_path\": \"${locked}\", \"emit\": \"every\", \"interval\": 1, \"timeout\": 2}" >"${work_dir}/source-locked.txt"
check count "${work_dir}/source-locked.txt" 1 "\"message\": \"ledger_path: ${locked} stayed locked by another process for 2 s\""
exec 9>&-

# --- typos in the collection's ansible.cfg sections: one warning each, once per run ------------
ANSIBLE_CONFIG="${here}/typos.cfg" ANSIBLE_CALLBACKS_ENABLED=stabilityai.platform.credit_recap timeout "${limit}" \
    ansible-playbook -i inventory.ini lookup.yml >"${work_dir}/typos.txt" 2>&1
for typo in 'stabilityai_platform] timout:did you mean timeout?' 'callback_credit_recap] organisations:did you mean organizations?' \
            'callback_credit_recap] ledger:did you mean ledger_path?'; do
    check count "${work_dir}/typos.txt" 1 \
        "${here}/typos.cfg: [${typo%%:*} is not a setting of the stabilityai.platform collection and is ignored; ${typo#*:}"
done
check count "${work_dir}/typos.txt" 1 'STABILITY AI CREDITS'
check count "${work_dir}/typos.txt" 3 'ok=1 '

# --- timeout above its bound in ansible.cfg: the callback warns, naming it, and the play goes on
printf '[stabilityai_platform]\ntimeout = 1e10\n' >"${work_dir}/bound.cfg"
ANSIBLE_CONFIG="${work_dir}/bound.cfg" recap "$@" >"${work_dir}/bound.txt" 2>&1
check count "${work_dir}/bound.txt" 1 "[WARNING]: stabilityai.platform.credit_recap: timeout (set by [stabilityai_platform] timeout in ${work_dir}/bound.cfg) must be a number of seconds greater than 0 and at most 600, got '1e10'" 'failed=0'
