#!/usr/bin/env bash
# The API key never appears in any output, result, warning, log, cache file or temporary file.
#
# With two fresh random keys (one the simulator knows, one it does not), run both modules, the
# lookup and the preflight playbook at -vvvv in success and in every failure class (401, 401 with
# the key quoted back, 403, 500 after retries, connection refused, TLS failure, bad input,
# min_credits), keeping stdout and stderr, Ansible's log, the registered results, the lookup cache
# and ANSIBLE_LOCAL_TEMP / ANSIBLE_REMOTE_TEMP, all under one scanned directory; then search it for
# the keys. ANSIBLE_KEEP_REMOTE_FILES stays off: Ansible writes module options, the key among them,
# into the module file it runs (a control below shows it), and deletes it only when that is off.
#
# Controls first prove that the scan finds the key where it is: a planted file, a debug task that
# prints it, and a module file kept with ANSIBLE_KEEP_REMOTE_FILES=1.
#
# No `set -x`: this script's own output must not carry the key either.
set -eu
# ansible-core 2.21 leaves the module options (the "invocation" key) out of task results unless
# asked; asked here, so that the -vvvv output scanned below shows them on every line, as before 2.21.
export ANSIBLE_INJECT_INVOCATION=1

work_dir="$(mktemp -d)"
# shellcheck source=../setup_simulator/files/simulator.sh
source ../setup_simulator/files/simulator.sh
proxy_dir="${work_dir}/proxy"
stop_all() {
    if [ -s "${proxy_dir}/pid" ]; then
        kill "$(cat "${proxy_dir}/pid")" 2>/dev/null || true
    fi
    stop_simulator "${work_dir}"
}
trap stop_all EXIT

python="${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}"
collection_root="${ANSIBLE_COLLECTIONS_PATH%%:*}/ansible_collections/stabilityai/platform"
private="${work_dir}/private"   # the keys and the fixture: never scanned
scan="${work_dir}/scan"         # everything the plugins could leave the key in
control="${work_dir}/control"   # the controls' own leaks
mkdir -m 0700 "${private}" "${scan}" "${control}"

"${python}" make_keys.py "${collection_root}/tests/simulator/fixtures/default.json" "${private}"
start_simulator "${work_dir}" --fixture "${private}/fixture.json"
sim_url="$(cat "${work_dir}/url")"
good_key="$(cat "${private}/good.key")"
bad_key="$(cat "${private}/bad.key")"

say() { printf '=== %s\n' "$*"; }

# The files under the given directories that hold a key (its random part), one a line.
leaks() {
    local status=0
    grep -rlF --text -f "${private}/needles" -- "$@" || status=$?
    [ "${status}" -le 1 ] || { echo "the scan itself failed (grep exit ${status})" >&2; exit 1; }
}

# Show an output file with the keys blanked, for a failure's diagnosis.
show() {
    sed -e "s/$(sed -n 1p "${private}/needles")/<KEY>/g" -e "s/$(sed -n 2p "${private}/needles")/<BAD-KEY>/g" "$1" | tail -n 60 >&2
}

unset STABILITY_API_KEY STABILITY_KEY STABILITY_API_URL STABILITY_CACHE_DIR ANSIBLE_KEEP_REMOTE_FILES

# --- controls: the scan finds the key where it is --------------------------------------------------
say "control: a planted file deep in a temporary directory"
mkdir -p "${control}/local_tmp/ansible-local-planted/tmp"
printf 'args: {"api_key": "%s"}\n' "${good_key}" >"${control}/local_tmp/ansible-local-planted/tmp/args"
test "$(leaks "${control}")" = "${control}/local_tmp/ansible-local-planted/tmp/args"

say "control: a debug task that prints the key"
ansible-playbook control.yml --tags leak -vvvv -e "@${private}/keys.yml" -e "sim_url=${sim_url}" \
    >"${control}/debug-output.txt" 2>&1 || { show "${control}/debug-output.txt"; exit 1; }
leaks "${control}" | grep -qxF "${control}/debug-output.txt"

say "control: a module run with ANSIBLE_KEEP_REMOTE_FILES=1 leaves the key in its module file"
ANSIBLE_KEEP_REMOTE_FILES=1 ANSIBLE_REMOTE_TEMP="${control}/remote_tmp" ANSIBLE_PIPELINING=0 \
    ansible-playbook control.yml --tags module -e "@${private}/keys.yml" -e "sim_url=${sim_url}" \
    >"${control}/module-output.txt" 2>&1 || { show "${control}/module-output.txt"; exit 1; }
leaks "${control}/remote_tmp" | grep -q "/AnsiballZ_stability_account_info.py$"
if leaks "${control}" | grep -qxF "${control}/module-output.txt"; then exit 1; fi  # its output stays clean even so

# --- the real runs, all at -vvvv, everything under ${scan} ------------------------------------------
export ANSIBLE_LOCAL_TEMP="${scan}/local_tmp"
export ANSIBLE_REMOTE_TEMP="${scan}/remote_tmp"
export ANSIBLE_LOG_PATH="${scan}/ansible.log"
export STABILITY_CACHE_DIR="${scan}/cache"

say "both modules and the lookup in every class"
ansible-playbook hygiene.yml -vvvv -e "@${private}/keys.yml" -e "sim_url=${sim_url}" -e "scan_dir=${scan}" \
    >"${scan}/hygiene-output.txt" 2>&1 || { show "${scan}/hygiene-output.txt"; exit 1; }

say "api_key as an option with pipelining: no module file, nothing printed (the guide's route for remote hosts)"
ANSIBLE_PIPELINING=1 ansible-playbook control.yml --tags module -vvvv -e "@${private}/keys.yml" -e "sim_url=${sim_url}" \
    >"${scan}/pipelining-output.txt" 2>&1 || { show "${scan}/pipelining-output.txt"; exit 1; }
tr -s '\n ' '  ' <"${scan}/pipelining-output.txt" | grep -qF 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'

# preflight NAME pass|fail PATTERN MIN_CREDITS [VARIABLE=VALUE...]: run the preflight playbook with the
# key in STABILITY_API_KEY (or as the variables say); it must pass or fail and print PATTERN.
preflight() {
    local name="$1" expected="$2" pattern="$3" min_credits="$4" output="${scan}/preflight-$1.txt" status=0
    shift 4
    env STABILITY_API_URL="${sim_url}" STABILITY_API_KEY="${good_key}" "$@" \
        ansible-playbook stabilityai.platform.preflight -vvvv -e "stability_min_credits=${min_credits}" >"${output}" 2>&1 || status=$?
    if { [ "${expected}" = pass ] && [ "${status}" -ne 0 ]; } || { [ "${expected}" = fail ] && [ "${status}" -eq 0 ]; } \
        || ! tr -s '\n ' '  ' <"${output}" | grep -qE -- "${pattern}"; then
        echo "preflight ${name}: expected to ${expected} printing /${pattern}/, exit ${status}" >&2
        show "${output}"
        exit 1
    fi
}

# Queue a fault in the simulator (the fault never holds a key).
fault() {
    "${python}" -c 'import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method=sys.argv[3],
                                              headers={"Content-Type": "application/json"}), timeout=10).read()' \
        "${sim_url}/_sim/faults" "${1:-null}" "${2:-POST}"
}

say "the preflight playbook in every class"
preflight success pass 'pre-flight passed' 100
preflight min-credits fail 'pre-flight failed: Credits are below min_credits 1000000000.00' 1000000000
preflight http-401 fail 'pre-flight failed: .*HTTP 401 unauthorized' 100 STABILITY_API_KEY="${bad_key}"
fault '{"status": 403, "match": {"endpoint": "balance"}}'
preflight http-403 fail 'pre-flight failed: .*HTTP 403 permission_denied' 100
fault '{"status": 500, "times": -1}'
preflight http-500 fail 'pre-flight failed: .*HTTP 500 server_error: .* after 4 attempts' 100
fault '' DELETE
preflight refused fail 'pre-flight failed: .*failed after 4 attempts: .*Connection refused' 100 STABILITY_API_URL=http://127.0.0.1:1
preflight tls fail 'pre-flight failed: .*TLS error' 100 STABILITY_API_URL="${sim_url/http:/https:}"
preflight bad-input fail 'pre-flight failed: api_key contains a control character' 100 STABILITY_API_KEY="${good_key}"$'\r\nX-Injected: 1'

# --- proxies: plain http never goes through one; https does, and the proxy sees only CONNECT --------
mkdir -m 0700 "${proxy_dir}"
"${python}" record_proxy.py "${proxy_dir}"
for _ in $(seq 50); do [ -s "${proxy_dir}/port" ] && break; sleep 0.1; done
proxy_url="http://127.0.0.1:$(cat "${proxy_dir}/port")"
with_proxy() {
    env HTTP_PROXY="${proxy_url}" HTTPS_PROXY="${proxy_url}" ALL_PROXY="${proxy_url}" \
        http_proxy="${proxy_url}" https_proxy="${proxy_url}" all_proxy="${proxy_url}" "$@"
}

say "control: an https api_url goes through the proxy, which sees CONNECT and no key"
if with_proxy ansible-playbook control.yml --tags module -e "@${private}/keys.yml" -e sim_url=https://api.example.test \
    >"${control}/proxy-output.txt" 2>&1; then show "${control}/proxy-output.txt"; exit 1; fi
grep -qF 'CONNECT api.example.test:443 ' "${proxy_dir}/requests"
test -z "$(leaks "${proxy_dir}")"
rm "${proxy_dir}/requests"

say "plain http to the loopback simulator never goes through a proxy"
with_proxy ansible-playbook proxy.yml -vvvv -e "@${private}/keys.yml" -e "sim_url=${sim_url}" \
    >"${scan}/proxy-output.txt" 2>&1 || { show "${scan}/proxy-output.txt"; exit 1; }
test ! -e "${proxy_dir}/requests"

# --- the scan ---------------------------------------------------------------------------------------
say "scan $(find "${scan}" -type f | wc -l) files for the keys"
found="$(leaks "${scan}")"
if [ -n "${found}" ]; then
    echo "the key was found in:" >&2
    echo "${found}" >&2
    exit 1
fi
say "the scanned area held what it should, so that the clean scan means something"
tr -s '\n ' '  ' <"${scan}/hygiene-output.txt" | grep -qF 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'  # -vvvv showed the options
grep -qF 'HTTP 401 unauthorized: the key ******** is invalid' "${scan}/results.json"             # the echo was blanked
grep -qF 'below warn_below' "${scan}/results.json"                                               # a warning was kept
test -s "${scan}/ansible.log"
test -d "${scan}/local_tmp"
ls "${scan}"/cache/*.json >/dev/null                                                             # the lookup cached
test "$(find "${scan}" -type f | wc -l)" -ge 12

say "no key anywhere"
