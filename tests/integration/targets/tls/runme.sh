#!/usr/bin/env bash
# TLS against the simulator served over HTTPS with a throw-away CA made here by trustme: for both
# modules and the lookup, default verification fails with one line that names certificate
# verification and ca_path (and sends nothing), ca_path pointing at the CA works, another CA fails,
# and validate_certs false works with a warning.
set -eux

work_dir="$(mktemp -d)"
# shellcheck source=../setup_simulator/files/simulator.sh
source ../setup_simulator/files/simulator.sh
trap 'stop_simulator "${work_dir}"' EXIT

"${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}" make_ca.py "${work_dir}"
start_simulator "${work_dir}" --tls-cert "${work_dir}/server.pem"

# No CA from the environment may help: verification must rest on ca_path alone.
unset REQUESTS_CA_BUNDLE CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR STABILITY_API_KEY STABILITY_KEY

sim_url="$(cat "${work_dir}/url")"
ansible-playbook tls.yml -e "sim_url=${sim_url}" -e "work_dir=${work_dir}" "$@"

# The lookup's warning only shows in the output: present with validate_certs false, absent otherwise.
warning="validate_certs is false: the TLS certificate of ${sim_url} is not checked"
for validate in true false; do
    ansible-playbook lookup_warning.yml -e "sim_url=${sim_url}" -e "work_dir=${work_dir}" -e "validate=${validate}" "$@" \
        >"${work_dir}/lookup-${validate}.txt" 2>&1 || { cat "${work_dir}/lookup-${validate}.txt"; exit 1; }
done
# (ansible-core before 2.19 wraps warnings at 80 columns: compare with the white space folded)
folded() { tr -s '\n ' '  ' <"$1"; }
folded "${work_dir}/lookup-false.txt" | grep -F -- "${warning}"
if folded "${work_dir}/lookup-true.txt" | grep -F -- "${warning}"; then
    echo "the lookup warned although it verified the certificate" >&2
    exit 1
fi
