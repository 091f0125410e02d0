#!/usr/bin/env bash
# The version matrix: tests/run-tests.sh once per supported ansible-core release line, each in its
# own virtualenv (<repo>/.venv-core-X.Y), then a table and `N passed, N failed` (one per version).
#
#   tools/run-matrix.sh                          # sanity units integration on every version below
#   tools/run-matrix.sh 2.16.19 2.19.14          # only these ansible-core versions
#   MATRIX_STEPS="units ee" tools/run-matrix.sh  # other steps of tests/run-tests.sh
#
# The versions are the newest patch release of each line from 2.16 on that installs on Python 3.11
# (checked with `pip index versions ansible-core`; 2.20 needs Python 3.12).  The default test
# command, tests/run-tests.sh, runs the pinned ansible-core only.
# Logs: tests/output/matrix/core-<version>.log.  Exits non-zero if any version failed.
set -euo pipefail

readonly DEFAULT_CORES="2.16.19 2.17.14 2.18.19 2.19.14"
readonly DEFAULT_STEPS="sanity units integration"

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
readonly REPO_ROOT
readonly LOG_DIR=$REPO_ROOT/tests/output/matrix

usage() {
  sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

# The result and seconds of one step from the summary table run-tests.sh prints last.
step_result() {
  awk -v step="$1" '
    /^STEP +RESULT +SECONDS$/ { table = 1; next }
    table && $1 == step && ($2 == "pass" || $2 == "fail") { found = $2 " " $3 }
    END { print (found == "" ? "- -" : found) }
  ' "$2"
}

main() {
  local arg
  for arg in "$@"; do
    case $arg in
      -h | --help)
        usage
        return 0
        ;;
      -*)
        printf 'run-matrix.sh: unknown option: %s\n' "$arg" >&2
        return 2
        ;;
      *)
        [[ $arg =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || {
          printf 'run-matrix.sh: not an ansible-core version: %s\n' "$arg" >&2
          return 2
        }
        ;;
    esac
  done

  local -a cores steps
  if (($# > 0)); then cores=("$@"); else read -ra cores <<<"$DEFAULT_CORES"; fi
  read -ra steps <<<"${MATRIX_STEPS:-$DEFAULT_STEPS}"
  mkdir -p "$LOG_DIR"

  local core log start rc step result seconds state passed=0 failed=0
  local -a rows=()
  for core in "${cores[@]}"; do
    log=$LOG_DIR/core-$core.log
    printf '==> ansible-core %s: tests/run-tests.sh %s (log: %s)\n' "$core" "${steps[*]}" "${log#"$REPO_ROOT"/}" >&2
    start=$SECONDS
    set +e
    ANSIBLE_CORE_VERSION=$core "$REPO_ROOT/tests/run-tests.sh" "${steps[@]}" >"$log" 2>&1 </dev/null
    rc=$?
    set -e

    state=pass
    ((rc == 0)) || state=fail
    local row
    row=$(printf '%-14s' "$core")
    for step in "${steps[@]}"; do
      read -r result seconds <<<"$(step_result "$step" "$log")"
      [[ $result == pass ]] || state=fail
      row+=$(printf ' %-4s %7s' "$result" "$seconds")
    done
    row+=$(printf ' %8s  %s' "$((SECONDS - start))" "$state")
    rows+=("$row")
    if [[ $state == pass ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    printf '==> ansible-core %s: %s (%ss)\n' "$core" "$state" "$((SECONDS - start))" >&2
  done

  local header rule
  header=$(printf '%-14s' ansible-core)
  rule=$(printf '%-14s' --------------)
  for step in "${steps[@]}"; do
    header+=$(printf ' %-12s' "$step")
    rule+=$(printf ' %-12s' ------------)
  done
  header+=$(printf ' %8s  %s' "total s" result)
  rule+=$(printf ' %8s  %s' -------- ------)
  printf '\n%s\n%s\n' "$header" "$rule"
  printf '%s\n' "${rows[@]}"
  printf '(step columns: result and seconds; total includes setting up the virtualenv)\n'
  printf '%d passed, %d failed\n' "$passed" "$failed"
  ((failed == 0))
}

main "$@"
