#!/usr/bin/env bash
# The shared request budget and lock-out memory, against the simulator with its rate
# limit on (30 requests per 2 s, then a 30 s lock-out, longer than a loaded machine takes to
# start the first module runs after the lock-out began): 300 local hosts, forks 40, the balance
# module on each host with rate_limit 20/2.
#   1. no 429 at all, and at most 20 requests in any 2 s of the simulator's log;
#   2. the key locked out by someone else just before: at most forks + 2 answers of 429 (and at
#      least 2, so that the play did meet the lock-out), and every task succeeds after it;
#   3. the same on 80 hosts against a lock-out of 120 s, longer than a call of timeout 1, retries 0
#      may wait (61 s): every task fails at once in one line naming the lock-out (or, on a machine
#      slower than the lock-out is long, succeeds after its end); some fail without asking the API;
#   4. a state planted by someone else (a lock-out and turns a day ahead) is ignored with a warning,
#      by the module and the lookup; rate_limit 1/3600 refuses a second call at once (planted.yml).
# Plays that could hang run under an outer time limit, so that a regression fails in minutes.
set -eux

work_dir="$(mktemp -d)"
# shellcheck source=../setup_simulator/files/simulator.sh
source ../setup_simulator/files/simulator.sh
lockout=30
start_simulator_as_alice "${work_dir}" --rate-limit 30/2 --lockout "${lockout}"

python="${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}"
export STABILITY_RATE_LIMIT=20/2
export XDG_CACHE_HOME="${work_dir}/xdg-cache"
export ANSIBLE_FORKS=40

inventory="$(mktemp)"
trap 'stop_simulator "${work_dir}"; rm -f "${inventory}"' EXIT
{
    echo '[fleet]'
    for index in $(seq 1 300); do echo "host${index}"; done
    echo '[fleet:vars]'
    echo 'ansible_connection=local'
    echo "ansible_python_interpreter=${python}"
} >"${inventory}"

"${python}" simulator_log.py clear
SECONDS=0
timeout 600 ansible-playbook -i "${inventory}" balance.yml "$@"
echo "300 hosts within the budget: ${SECONDS} s"
"${python}" simulator_log.py check --ok 300 --most 20 --window 2 --most-429 0

trip="${python} $(pwd)/simulator_log.py trip"
"${python}" simulator_log.py clear
SECONDS=0
timeout 600 ansible-playbook -i "${inventory}" balance.yml -e "trip_first='${trip}'" -e "lockout=${lockout}" "$@"
echo "300 hosts after a lock-out: ${SECONDS} s"
"${python}" simulator_log.py check --ok 330 --least-429 2 --most-429 42

# A simulator whose lock-out (120 s) is longer than the 60 s a call may wait for one.
stop_simulator "${work_dir}"
work_dir="$(mktemp -d)"
lockout=120
start_simulator "${work_dir}" --rate-limit 30/2 --lockout "${lockout}"
STABILITY_API_URL="$(cat "${work_dir}/url")"
export STABILITY_API_URL
export XDG_CACHE_HOME="${work_dir}/xdg-cache"
trip="${python} $(pwd)/simulator_log.py trip"
"${python}" simulator_log.py clear
SECONDS=0
timeout 600 ansible-playbook -i "${inventory}" balance.yml -e "trip_first='${trip}'" -e "lockout=${lockout}" -e expect_failures=true \
    -e rate_timeout=1 -e rate_retries=0 --limit 'fleet[0:79]' "$@"
echo "80 hosts with a short time bound after a lock-out: ${SECONDS} s"
"${python}" simulator_log.py check --least-429 2 --most-429 42

"${python}" simulator_log.py clear
"${python}" rate_state.py "${XDG_CACHE_HOME}/stabilityai.platform" empty  # forget the lock-out case 3 met
SECONDS=0
timeout 300 ansible-playbook planted.yml -e "state_dir=${XDG_CACHE_HOME}/stabilityai.platform" "$@"
echo "planted state and a budget of one an hour: ${SECONDS} s"
