#!/usr/bin/env bash
# Renders the collection's documentation site offline: the plugin reference from the plugins' own
# documentation and the guides of docs/docsite (extra-docs.yml, links.yml), as HTML with
# antsibull-docs and Sphinx, after `antsibull-docs lint-collection-docs`. Any warning fails it.
#
#   tools/build-docs.sh          # a check: builds in a temporary directory and removes it
#   tools/build-docs.sh DEST     # keeps the site: open DEST/build/html/index.html
#
# Works from a plain checkout (it lays out a copy of the git-visible files as
# ansible_collections/stabilityai/platform, as tests/run-tests.sh does) and from such a layout
# (`tests/run-tests.sh docs` runs it there). Uses the virtualenv of tests/run-tests.sh
# (STABILITY_VENV overrides where). Needs no network: intersphinx is switched off.
set -euo pipefail

# shellcheck source=tests/run-tests.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tests/run-tests.sh"

DOCS_DEST=
DOCS_TEMP=
DOCS_LOGGING_CFG=

docs_cleanup() {
  cleanup
  [[ -n $DOCS_TEMP ]] && rm -rf "$DOCS_TEMP"
  [[ -n $DOCS_LOGGING_CFG ]] && rm -f "$DOCS_LOGGING_CFG"
  return 0
}

# antsibull-docs logs everything to ~/antsibull.log unless its configuration says otherwise: this
# configuration keeps only its warnings and errors, on stderr (run_strict reads them there), so a
# build leaves nothing outside its own directories.
write_logging_config() {
  cat >"$1" <<'EOF'

# tools/build-docs.sh: warnings and errors to stderr; no ~/antsibull.log.
logging_cfg = {
    version = 1.0
    outputs = {
        stderr = {
            output = twiggy.outputs.StreamOutput
            format = twiggy.formats.shell_format
        }
    }
    emitters = {
        problems = {
            level = WARNING
            output_name = stderr
        }
    }
}
EOF
}

# Sets COLLECTION_DIR to the collection inside an ansible_collections tree and points
# ANSIBLE_COLLECTIONS_PATH at that tree.
locate_collection() {
  local suffix=/ansible_collections/$COLLECTION_NAMESPACE/$COLLECTION_NAME
  if [[ $REPO_ROOT == *"$suffix" ]]; then
    COLLECTION_DIR=$REPO_ROOT
    export ANSIBLE_COLLECTIONS_PATH=${REPO_ROOT%"$suffix"}
    return 0
  fi
  git -C "$REPO_ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
    die "$REPO_ROOT is neither a git checkout nor inside ansible_collections/$COLLECTION_NAMESPACE/$COLLECTION_NAME"
  SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/stability-docs.XXXXXX")
  COLLECTION_DIR=$SCRATCH$suffix
  prepare_collection_copy
  export ANSIBLE_COLLECTIONS_PATH=$SCRATCH
}

# Runs a command, shows its output, and fails when it exits non-zero or says WARNING or ERROR.
run_strict() {
  local output rc=0
  output=$(mktemp "${TMPDIR:-/tmp}/stability-docs-output.XXXXXX")
  "$@" >"$output" 2>&1 || rc=$?
  cat "$output"
  if grep -Eq '\b(WARNING|ERROR)\b' "$output"; then
    log "warnings or errors from $1:"
    grep -E '\b(WARNING|ERROR)\b' "$output" >&2
    ((rc == 0)) && rc=1
  fi
  rm -f "$output"
  return "$rc"
}

# antsibull-docs 2.28 lints plugin pages rendered from a copy of the collection in a temporary
# directory named antsibull-docs-XXXXXXXX, and with links.yml's edit_on_github the page's
# github_url holds a path through that directory. When the random part ends in "_", docutils reads
# it as a link target and reports 'Unknown target name: "antsibull-docs-..."' (about one run in
# 37). Such a run, and only such a run, is repeated, without printing its output: a build prints
# no spurious error, and any other error or warning still fails it.
lint_collection_docs() {
  local output attempt rc
  output=$(mktemp "${TMPDIR:-/tmp}/stability-docs-lint.XXXXXX")
  for attempt in 1 2 3; do
    rc=0
    run_strict antsibull-docs --config-file "$DOCS_LOGGING_CFG" lint-collection-docs --plugin-docs \
      --validate-collection-refs all --disallow-unknown-collection-refs . >"$output" 2>&1 || rc=$?
    if ((rc == 0 || attempt == 3)) || ! grep -q 'Unknown target name: "antsibull-docs-' "$output" ||
      grep -E '\b(WARNING|ERROR)\b' "$output" | grep -v -e 'Unknown target name: "antsibull-docs-' -e '^==> ' -q; then
      cat "$output"
      break
    fi
    log "lint-collection-docs: antsibull-docs' temporary directory ended in '_' (a false positive); again"
  done
  rm -f "$output"
  return "$rc"
}

docs_main() {
  (($# <= 1)) || die "usage: tools/build-docs.sh [DEST]"
  if [[ -n ${1:-} ]]; then
    mkdir -p "$1"
    DOCS_DEST=$(cd "$1" && pwd -P)
  fi
  cd "$REPO_ROOT"
  setup_toolchain
  trap docs_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  locate_collection
  if [[ -z $DOCS_DEST ]]; then
    DOCS_TEMP=$(mktemp -d "${TMPDIR:-/tmp}/stability-docsite.XXXXXX")
    DOCS_DEST=$DOCS_TEMP
  fi
  # antsibull-docs refuses a destination that others may write to.
  chmod 755 "$DOCS_DEST"
  DOCS_LOGGING_CFG=$(mktemp "${TMPDIR:-/tmp}/stability-docs-logging.XXXXXX")
  write_logging_config "$DOCS_LOGGING_CFG"

  log "lint-collection-docs: $COLLECTION_DIR"
  (cd "$COLLECTION_DIR" && lint_collection_docs)

  log "sphinx-init: $DOCS_DEST"
  run_strict antsibull-docs --config-file "$DOCS_LOGGING_CFG" sphinx-init --use-current --dest-dir "$DOCS_DEST" \
    --project "$COLLECTION_NAMESPACE.$COLLECTION_NAME" --title "$COLLECTION_NAMESPACE.$COLLECTION_NAME" \
    "$COLLECTION_NAMESPACE.$COLLECTION_NAME"
  # The site's first page is the collection's own, not sphinx-init's "Welcome to my Ansible
  # collection documentation" (antsibull-docs keeps rst/index.rst: it is not one of its pages).
  cp "$COLLECTION_DIR/docs/docsite/site-index.rst" "$DOCS_DEST/rst/index.rst"
  cat >>"$DOCS_DEST/conf.py" <<'EOF'

# tools/build-docs.sh: an offline build. No intersphinx inventories to download, so references into
# docs.ansible.com cannot be resolved and are not reported.
intersphinx_mapping = {}
suppress_warnings = ['ref.ref']
EOF
  # build.sh passes this file to antsibull-docs.
  cat "$DOCS_LOGGING_CFG" >>"$DOCS_DEST/antsibull-docs.cfg"

  # build.sh runs `antsibull-docs collection` and then `sphinx-build -W --keep-going`.
  log "build: $DOCS_DEST/build.sh"
  run_strict "$DOCS_DEST/build.sh"
  [[ -s $DOCS_DEST/build/html/collections/$COLLECTION_NAMESPACE/$COLLECTION_NAME/index.html ]] ||
    die "no collection index page in $DOCS_DEST/build/html"
  grep -q 'Three ways to gate a play on credits' "$DOCS_DEST/build/html/index.html" ||
    die "the site's first page is not the collection's own (docs/docsite/site-index.rst)"
  if [[ -n $DOCS_TEMP ]]; then
    log "docs built without warnings (in a temporary directory; give DEST to keep them)"
  else
    log "docs built without warnings: $DOCS_DEST/build/html/index.html"
  fi
}

docs_main "$@"
