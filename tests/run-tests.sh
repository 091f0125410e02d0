#!/usr/bin/env bash
# The collection's single test command.  Run from anywhere; it works on the
# checkout it lives in:
#
#   tests/run-tests.sh                 # all steps but the opt-in ones
#   tests/run-tests.sh sanity units    # only these steps, in pipeline order
#   tests/run-tests.sh mutation        # an opt-in step runs only when named
#   tests/run-tests.sh --list          # list the steps ("(opt-in)" after the opt-in ones)
#
# Needs only Python 3.11, git and access to PyPI (through pip).  It
#   1. creates/refreshes a virtualenv from requirements-dev.txt, constrained by
#      tools/requirements-lock.txt (skipped while the requirement files are unchanged),
#   2. installs an offline stand-in for ansible-test's get-pip download,
#   3. copies the checkout to <scratch>/ansible_collections/stabilityai/platform
#      (ansible-test insists on that layout) as a fresh git repository,
#   4. runs each step there, carries on after failures, prints a summary and
#      exits non-zero if any step failed.
#
# Environment:
#   STABILITY_VENV        virtualenv to use (default: <repo>/.venv, or
#                         <repo>/.venv-core-X.Y with ANSIBLE_CORE_VERSION)
#   ANSIBLE_CORE_VERSION  install this ansible-core instead of the pinned one (version matrix)
#   STABILITY_CORE_UNPIN  with ANSIBLE_CORE_VERSION: packages whose exact pins are dropped
#                         because they pin ansible-core themselves (default: "molecule ansible-lint")
#   KEEP_SCRATCH=1        keep the scratch copy (its tests/output holds the ansible-test results)
#   PYTHON                Python 3.11 interpreter to build the virtualenv with
set -euo pipefail

readonly COLLECTION_NAMESPACE=stabilityai
readonly COLLECTION_NAME=platform
readonly PYTHON_VERSION=3.11
readonly STAMP_FORMAT=1 # bump to force a reinstall when the install logic changes

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
readonly REPO_ROOT
readonly REQUIREMENTS=requirements-dev.txt
readonly LOCK_FILE=tools/requirements-lock.txt
readonly GET_PIP_STANDIN=tools/get_pip_standin.py

# ---------------------------------------------------------------------------
# Steps: one line each, run in this order from the collection root in the
# scratch copy.  A step is `run_step <name> <command> [args...]`; for anything
# longer than one command write a function `step_<name>() { ...; }` (it runs
# in a subshell with `set -e`, so `cd` is fine) and register `run_step <name> step_<name>`.
# `run_step --opt-in <name> ...` registers a step that the default run leaves out: it runs only
# when named on the command line.
# ---------------------------------------------------------------------------
define_steps() {
  run_step sanity ansible-test sanity --python "$PYTHON_VERSION" --color no
  # antsibull-docs lint-collection-docs, then the HTML site rendered offline; any warning fails.
  run_step docs tools/build-docs.sh
  # The CI examples of docs/examples/ci/ against the GitHub Actions and GitLab CI schemas (check-jsonschema, offline).
  run_step examples python -m pytest -p no:cacheprovider tools/examples/test_ci_examples.py
  # Changelog fragments and changelogs/changelog.yaml valid; CHANGELOG.md generated from them.
  run_step changelog step_changelog
  # ansible-lint, production profile, over the whole collection (.ansible-lint).
  run_step lint ansible-lint --nocolor
  # antsibull-nox's sessions that work offline without a container (antsibull-nox.toml): yamllint
  # (files, plugin docs, RST code blocks), code-block languages, unwanted files, action groups,
  # trailing whitespace, tabs. --no-venv: they use the tools of this venv, as pinned.
  run_step nox nox --no-venv --no-color -s lint docs-check extra-checks
  run_step units ansible-test units --python "$PYTHON_VERSION" --venv --color no
  # --venv works for integration (checked with ansible-core 2.19.14 and 2.17.14).
  # Modules then run in ansible-test's own venv, which gets only
  # tests/integration/requirements.txt (so `requests` must be listed there), not
  # this tool venv.  Fallback if it ever breaks: --local (it leaves
  # tests/integration/inventory behind, which is git-ignored).
  run_step integration ansible-test integration --python "$PYTHON_VERSION" --venv --color no
  # The preflight playbook against the simulator, as CI runs it (extensions/molecule/default).
  run_step molecule molecule test
  # The execution environment: `ansible-builder create` on docs/examples/execution-environment,
  # its galaxy and builder stages replayed without a container (none is needed); and the same
  # `ansible-builder create` check of the decision environment of docs/examples/eda.
  run_step ee python -m pytest -p no:cacheprovider tools/ee/test_execution_environment.py
  # The preflight playbook through ansible_runner.run(), as AWX runs a job template, with the
  # key injected by the credential type of docs/docsite/rst/awx.rst (simulator as the API).
  run_step runner python -m pytest -p no:cacheprovider tools/ee/test_runner.py
  # The credit_balance event source in a real ansible-rulebook run of docs/examples/eda against the
  # simulator: crossings, a top-up, an outage, the playbook the rulebook runs (needs Java 17).
  run_step eda step_eda
  # The release tarball: ansible-galaxy collection build holds the product and nothing else, and
  # galaxy-importer (Galaxy's own upload checks, ansible-lint included) reports no warning or error.
  run_step build python -m pytest -p no:cacheprovider tools/build/test_build.py
  # Opt-in: mutmut over every private helper (plugins/*_utils/_*.py) with the unit tests; fails
  # under 95% killed.  About 35 minutes on 2 busy cores.  See tools/mutation/README.md.
  run_step --opt-in mutation python tools/mutation/run.py
}

step_changelog() {
  antsibull-changelog lint
  antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
  # Regenerating must change nothing: CHANGELOG.md is never edited by hand.
  antsibull-changelog generate
  git diff --exit-code -- CHANGELOG.md changelogs/changelog.yaml
}

step_eda() {
  local found=none major=0
  if command -v java >/dev/null 2>&1; then
    found=$(java -version 2>&1 | head -n1)
    major=$(sed -n 's/.* version "\(1\.\)\{0,1\}\([0-9]*\).*/\2/p' <<<"$found")
  fi
  if ((${major:-0} < 17)); then
    echo "step eda: ansible-rulebook needs a Java 17 (or newer) runtime on PATH; found: $found" >&2
    return 1
  fi
  python -m pytest -p no:cacheprovider tools/eda/test_credit_balance_rulebook.py
}

# ---------------------------------------------------------------------------

log() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'run-tests.sh: error: %s\n' "$*" >&2
  exit 2
}

usage() {
  local names
  names=$(list_steps)
  cat <<EOF
Usage: tests/run-tests.sh [--list] [STEP...]

Runs the collection's test steps (default: all but the opt-in ones, in this order):
  ${names//$'\n'/ }
See the header of tests/run-tests.sh for the environment variables it reads.
EOF
}

# Microseconds since the epoch (EPOCHREALTIME may use a locale's decimal comma).
now_us() {
  if [[ -n ${EPOCHREALTIME:-} ]]; then
    local t=${EPOCHREALTIME/[.,]/}
    printf '%s\n' "$((10#$t))"
  else
    printf '%s\n' "$(($(date +%s) * 1000000))"
  fi
}

# --- step registry ----------------------------------------------------------

STEP_MODE=list
declare -a ALL_STEPS=() OPT_IN_STEPS=() SELECTED=() RESULT_NAMES=() RESULT_STATES=() RESULT_SECONDS=()

# One step a line; an opt-in step is followed by " (opt-in)".
list_steps() {
  local name
  STEP_MODE=list
  ALL_STEPS=()
  OPT_IN_STEPS=()
  define_steps
  for name in "${ALL_STEPS[@]}"; do
    if is_opt_in "$name"; then
      printf '%s (opt-in)\n' "$name"
    else
      printf '%s\n' "$name"
    fi
  done
}

is_opt_in() {
  local step
  for step in "${OPT_IN_STEPS[@]}"; do
    [[ $step == "$1" ]] && return 0
  done
  return 1
}

# $1: the step; $2: "opt-in" when it runs only if named.
is_selected() {
  local want
  if ((${#SELECTED[@]} == 0)); then
    [[ ${2:-} != opt-in ]]
    return
  fi
  for want in "${SELECTED[@]}"; do
    [[ $want == "$1" ]] && return 0
  done
  return 1
}

run_step() {
  local kind=default
  if [[ $1 == --opt-in ]]; then
    kind=opt-in
    shift
  fi
  local name=$1
  shift
  if [[ $STEP_MODE == list ]]; then
    ALL_STEPS+=("$name")
    [[ $kind == opt-in ]] && OPT_IN_STEPS+=("$name")
    return 0
  fi
  is_selected "$name" "$kind" || return 0

  log "step $name: $*"
  local start rc elapsed
  start=$(now_us)
  set +e
  (
    set -e
    cd "$COLLECTION_DIR"
    "$@"
  ) </dev/null
  rc=$?
  set -e
  elapsed=$(($(now_us) - start))

  RESULT_NAMES+=("$name")
  RESULT_SECONDS+=("$((elapsed / 1000000)).$((elapsed % 1000000 / 100000))")
  if ((rc == 0)); then
    RESULT_STATES+=(pass)
    log "step $name: passed"
  else
    RESULT_STATES+=(fail)
    log "step $name: FAILED (exit $rc)"
  fi
}

# --- environment --------------------------------------------------------------

setup_environment() {
  # ansible-core refuses to run without a UTF-8 locale.
  case "${LC_ALL:-${LC_CTYPE:-${LANG:-}}}" in
    *[Uu][Tt][Ff]-8* | *[Uu][Tt][Ff]8*) ;;
    *) export LC_ALL=C.UTF-8 ;;
  esac
  # ansible-test keeps its get-pip cache and ~110 MB of sanity venvs under ~/.ansible/test.
  if [[ -z ${HOME:-} || ! -d $HOME || ! -w $HOME ]]; then
    HOME="${TMPDIR:-/tmp}/stability-tests-home-$(id -u)"
    export HOME
    mkdir -p "$HOME"
    log "HOME is not writable; using $HOME"
  fi
  # Keep the caller's Ansible settings from leaking into the run.
  unset ANSIBLE_COLLECTIONS_PATHS ANSIBLE_COLLECTIONS_PATH ANSIBLE_CONFIG
  export PIP_DISABLE_PIP_VERSION_CHECK=1
}

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" "python$PYTHON_VERSION" python3; do
    if [[ -z $candidate ]] || ! command -v "$candidate" >/dev/null 2>&1; then
      continue
    fi
    if "$candidate" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$PYTHON_VERSION'.split('.'))))" 2>/dev/null; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  die "Python $PYTHON_VERSION not found (set PYTHON=/path/to/python$PYTHON_VERSION)"
}

sha256_stdin() {
  "$BASE_PYTHON" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'
}

# Writes the requirement arguments for pip into the array REQ_ARGS.
prepare_requirements() {
  if [[ -z ${ANSIBLE_CORE_VERSION:-} ]]; then
    REQ_ARGS=(-r "$REPO_ROOT/$REQUIREMENTS" -c "$REPO_ROOT/$LOCK_FILE")
    return 0
  fi
  # Version matrix: swap the ansible-core pin.  The lock file is left out (it
  # pins ansible-core's dependencies for the default version), and tools that
  # pin ansible-core themselves are unpinned so pip can pick a compatible release.
  local generated=$VENV/requirements-core.txt pkg
  local -a sed_args=(-e "s/^ansible-core[[:space:]]*[=<>!~].*/ansible-core==$ANSIBLE_CORE_VERSION/")
  for pkg in ${STABILITY_CORE_UNPIN-molecule ansible-lint}; do
    sed_args+=(-e "s/^${pkg}[[:space:]]*==.*/${pkg}/")
  done
  sed "${sed_args[@]}" "$REPO_ROOT/$REQUIREMENTS" >"$generated"
  grep -q "^ansible-core==$ANSIBLE_CORE_VERSION\$" "$generated" ||
    printf 'ansible-core==%s\n' "$ANSIBLE_CORE_VERSION" >>"$generated"
  REQ_ARGS=(-r "$generated")
}

ensure_venv() {
  local venv_python=$VENV/bin/python want_hash have_hash=
  if ! "$venv_python" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$PYTHON_VERSION'.split('.'))))" 2>/dev/null; then
    log "creating virtualenv $VENV"
    "$BASE_PYTHON" -m venv --clear "$VENV"
  fi

  want_hash=$(
    {
      printf 'format=%s python=%s core=%s unpin=%s\n' "$STAMP_FORMAT" "$("$venv_python" -V 2>&1)" \
        "${ANSIBLE_CORE_VERSION:-}" "${STABILITY_CORE_UNPIN-molecule ansible-lint}"
      cat "$REPO_ROOT/$REQUIREMENTS" "$REPO_ROOT/$LOCK_FILE"
    } | sha256_stdin
  )
  [[ -f $VENV/.requirements.sha256 ]] && have_hash=$(<"$VENV/.requirements.sha256")
  if [[ $want_hash == "$have_hash" ]]; then
    log "virtualenv $VENV is up to date"
    return 0
  fi

  prepare_requirements
  log "installing requirements into $VENV"
  if ! "$venv_python" -m pip install --quiet --disable-pip-version-check "${REQ_ARGS[@]}"; then
    die "installing the requirements into $VENV failed"
  fi
  printf '%s\n' "$want_hash" >"$VENV/.requirements.sha256"
}

# ansible-test bootstraps pip in its venvs with a get-pip script it downloads
# from an Ansible host; a cached copy under ~/.ansible/test/cache wins.
install_get_pip_standin() {
  local pip_version target
  pip_version=$("$VENV/bin/python" - <<'EOF'
import pathlib, re, ansible_test
source = pathlib.Path(ansible_test.__file__).parent / '_internal' / 'python_requirements.py'
match = re.search(r"""\bpip=['"]([0-9][^'"]*)['"]""", source.read_text())
print(match.group(1) if match else '')
EOF
  )
  [[ -n $pip_version ]] || die "cannot find ansible-test's pip pin in python_requirements.py"
  target=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
  mkdir -p "${target%/*}"
  if ! cmp -s "$REPO_ROOT/$GET_PIP_STANDIN" "$target"; then
    cp "$REPO_ROOT/$GET_PIP_STANDIN" "$target"
    log "installed get-pip stand-in as $target"
  fi
}

# Copy the checkout (tracked + untracked-but-not-ignored files, as they are in
# the work tree) into <scratch>/ansible_collections/<ns>/<name> as a new git repo.
prepare_collection_copy() {
  local list=$SCRATCH/files.lst path venv_rel=
  [[ $VENV == "$REPO_ROOT"/* ]] && venv_rel=${VENV#"$REPO_ROOT"/}
  mkdir -p "$COLLECTION_DIR"
  : >"$list"
  while IFS= read -r -d '' path; do
    [[ -e $path || -L $path ]] || continue # deleted in the work tree
    case $path in
      .venv*/* | "${venv_rel:-/}"/*) continue ;; # virtualenvs not (yet) in .gitignore
    esac
    printf '%s\0' "$path" >>"$list"
  done < <(git -C "$REPO_ROOT" ls-files -z --cached --others --exclude-standard | sort -zu)

  tar -C "$REPO_ROOT" --null --no-recursion -T "$list" -cf - | tar -C "$COLLECTION_DIR" -xf -

  # ansible-test sanity only looks at files git knows about; -f keeps files
  # that are tracked despite matching .gitignore.
  git -C "$COLLECTION_DIR" -c init.defaultBranch=main init -q
  git -C "$COLLECTION_DIR" add -f --pathspec-from-file="$list" --pathspec-file-nul
  git -C "$COLLECTION_DIR" -c user.name=run-tests -c user.email=run-tests@localhost \
    -c commit.gpgsign=false commit -q --no-verify --allow-empty -m "run-tests.sh snapshot"
  log "collection copy: $COLLECTION_DIR ($(tr -cd '\0' <"$list" | wc -c) files)"
}

cleanup() {
  [[ ${KEEP_SCRATCH:-0} == 1 ]] && return 0
  [[ -n ${SCRATCH:-} ]] && rm -rf "$SCRATCH"
  return 0
}

print_summary() {
  local i passed=0 failed=0
  printf '\n%-16s %-6s %9s\n' STEP RESULT SECONDS
  printf '%-16s %-6s %9s\n' ---------------- ------ ---------
  for i in "${!RESULT_NAMES[@]}"; do
    printf '%-16s %-6s %9s\n' "${RESULT_NAMES[i]}" "${RESULT_STATES[i]}" "${RESULT_SECONDS[i]}"
    if [[ ${RESULT_STATES[i]} == pass ]]; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
    fi
  done
  printf '%d passed, %d failed\n' "$passed" "$failed"
  ((failed == 0))
}

# The environment and the virtualenv every entry point needs (tests/run-demo.sh too).
setup_toolchain() {
  setup_environment
  BASE_PYTHON=$(find_python)

  local default_venv=.venv
  if [[ -n ${ANSIBLE_CORE_VERSION:-} ]]; then
    [[ $ANSIBLE_CORE_VERSION =~ ^[0-9]+\.[0-9]+ ]] || die "bad ANSIBLE_CORE_VERSION: $ANSIBLE_CORE_VERSION"
    default_venv=.venv-core-${BASH_REMATCH[0]}
  fi
  VENV=${STABILITY_VENV:-$default_venv}
  [[ $VENV == /* ]] || VENV=$REPO_ROOT/$VENV

  ensure_venv
  export VIRTUAL_ENV=$VENV PATH=$VENV/bin:$PATH
}

main() {
  local arg name listing
  listing=$(list_steps)
  mapfile -t ALL_STEPS < <(printf '%s\n' "${listing// (opt-in)/}")
  for arg in "$@"; do
    case $arg in
      -h | --help)
        usage
        return 0
        ;;
      --list)
        printf '%s\n' "$listing"
        return 0
        ;;
      -*) die "unknown option: $arg (see --help)" ;;
      *)
        for name in "${ALL_STEPS[@]}"; do
          [[ $name == "$arg" ]] && continue 2
        done
        die "unknown step: $arg (steps: ${ALL_STEPS[*]})"
        ;;
    esac
  done
  SELECTED=("$@")

  cd "$REPO_ROOT"
  git rev-parse --is-inside-work-tree >/dev/null 2>&1 || die "$REPO_ROOT is not a git checkout"
  setup_toolchain
  # Steps that are scripts of their own (tools/build-docs.sh) use the same virtualenv.
  export STABILITY_VENV=$VENV
  install_get_pip_standin
  log "$(ansible-test --version 2>/dev/null || ansible --version | head -n1)"

  SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/stability-tests.XXXXXX")
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  COLLECTION_DIR=$SCRATCH/ansible_collections/$COLLECTION_NAMESPACE/$COLLECTION_NAME
  prepare_collection_copy
  export ANSIBLE_COLLECTIONS_PATH=$SCRATCH

  STEP_MODE=run
  define_steps

  [[ ${KEEP_SCRATCH:-0} == 1 ]] && log "kept scratch copy: $COLLECTION_DIR"
  print_summary
}

# Sourced by tests/run-demo.sh for its functions; run directly, it runs the steps.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
