# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every way the docs say to install the collection works as written: the commands come from the pages.

The install section of docs/docsite/rst/guide.rst and README.md mark their code blocks with a
comment (``.. install-test: SCENARIO [file=NAME]`` before an RST code block, ``<!-- install-test:
SCENARIO -->`` before a Markdown fence). Each scenario's blocks run, in page order, as one bash
script in a fresh directory with a fresh HOME and no ANSIBLE_* variables, as a new user would type
them; then the blocks of the ``check`` scenario (``ansible-doc`` and the pre-flight playbook) run in
the same shell, against the collection's simulator. A ``file=NAME`` block is written to NAME first.

Galaxy is unreachable from the tests, so there is exactly one substitution: where a page installs
or downloads ``stabilityai.platform`` by name (on an ``ansible-galaxy collection`` command line, or
as the ``name:`` of a requirements file), the tarball that ``ansible-galaxy collection build`` made
from this checkout is given instead. The environment adds only STABILITY_API_KEY and
STABILITY_API_URL (the simulator's), as the page asks the reader to set the key. Every command runs
as written: the collection needs no Python package, so no page installs one (a test holds them to it).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap

import pytest
import yaml

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(COLLECTION_ROOT, 'tests', 'simulator'))
import launcher  # noqa: E402 pylint: disable=wrong-import-position

PAGES = ['docs/docsite/rst/guide.rst', 'README.md']
SCENARIOS = ['user', 'requirements', 'project', 'project-env', 'airgapped', 'readme']
CHECK = 'check'
# Install commands of other pages that are not a way to install for use, with the reason.
NOT_AN_INSTALL = {
    'ansible-galaxy collection install stabilityai-platform-2.0.0.tar.gz -p /tmp/ee-check':
        'awx.rst: a throw-away copy for `ansible-builder introspect`, which tools/ee checks',
}
FIXTURE = os.path.join(COLLECTION_ROOT, 'tests', 'simulator', 'fixtures', 'default.json')

RST_MARKER = re.compile(r'^\.\. install-test: (.+)$')
MD_MARKER = re.compile(r'^<!-- install-test: (.+?)\s*-->$')
GALAXY_COMMAND = re.compile(r'ansible-galaxy collection (?:install|download)\b[^\n`#]*')
NAME_TOKEN = re.compile(r'(?<=\s)stabilityai\.platform(?=\s|$)')
REQUIREMENT_NAME = re.compile(r'^(\s*-?\s*name:\s*)stabilityai\.platform\s*$', re.MULTILINE)


class Block(object):
    """One marked code block: its scenarios, the file it is written to (or None), its text."""

    def __init__(self, page, line, scenarios, filename, language, text):
        self.page, self.line, self.scenarios, self.filename, self.language, self.text = page, line, scenarios, filename, language, text

    def commands(self):
        """The commands a reader types: ``$ `` lines of a console block, every line of a shell block."""
        lines = self.text.replace('\\\n', ' ').splitlines()
        if self.language == 'console':
            return [line[2:].strip() for line in lines if line.startswith('$ ')]
        return [line.strip() for line in lines if line.strip() and not line.strip().startswith('#')]


def marker_fields(text):
    scenarios, filename = [], None
    for field in text.split():
        if field.startswith('file='):
            filename = field[len('file='):]
        elif field.startswith('('):
            break
        else:
            scenarios.append(field)
    return scenarios, filename


def rst_block(page, lines, index):
    """The language and text of the RST code block after the marker on line ``index``."""
    start = index + 1
    while start < len(lines) and not lines[start].strip():
        start += 1
    directive = re.match(r'^\.\. code-block:: (\S+)$', lines[start]) if start < len(lines) else None
    assert directive, '%s:%d: an install-test marker must be followed by a code block' % (page, index + 1)
    body = []
    for text in lines[start + 1:]:
        if text.strip() and not text.startswith(' '):
            break
        body.append(text)
    return directive.group(1), textwrap.dedent('\n'.join(body)).strip('\n') + '\n'


def markdown_block(page, lines, index):
    """The language and text of the Markdown fence right after the marker on line ``index``."""
    fence = re.match(r'^```(\w+)$', lines[index + 1]) if index + 1 < len(lines) else None
    assert fence, '%s:%d: an install-test marker must be followed by a fenced code block' % (page, index + 1)
    end = lines.index('```', index + 2)
    return fence.group(1), '\n'.join(lines[index + 2:end]) + '\n'


def page_blocks(page, lines):
    marker, read_block = (MD_MARKER, markdown_block) if page.endswith('.md') else (RST_MARKER, rst_block)
    blocks = []
    for index, line in enumerate(lines):
        match = marker.match(line)
        if match:
            scenarios, filename = marker_fields(match.group(1))
            language, text = read_block(page, lines, index)
            blocks.append(Block(page, index + 1, scenarios, filename, language, text))
    return blocks


def marked_blocks():
    blocks = []
    for page in PAGES:
        with open(os.path.join(COLLECTION_ROOT, page)) as handle:
            lines = handle.read().splitlines()
        blocks.extend(page_blocks(page, lines))
    return blocks


BLOCKS = marked_blocks()


def scenario_blocks(name):
    return [block for block in BLOCKS if name in block.scenarios]


def substituted(command, tarball):
    """The one substitution: the collection's name as an install source becomes the built tarball."""
    if command.startswith('ansible-galaxy collection '):
        return NAME_TOKEN.sub(shlex.quote(tarball), command)
    return command


def script_of(blocks, tarball):
    lines = ['set -euo pipefail']
    for block in blocks:
        if block.filename is None:
            lines.extend(substituted(command, tarball) for command in block.commands())
    return '\n'.join(lines) + '\n'


def write_files(blocks, directory, tarball):
    for block in blocks:
        if block.filename is not None:
            text = REQUIREMENT_NAME.sub(lambda match: match.group(1) + tarball, block.text)
            with open(os.path.join(directory, block.filename), 'w') as handle:
                handle.write(text)


def simulator_key():
    """A key of the simulator's default fixture whose account has a default organization, and that organization's credits."""
    with open(FIXTURE) as handle:
        fixture = json.load(handle)
    for key, user in sorted(fixture['keys'].items()):
        for membership in fixture['accounts'][user]['organizations']:
            if membership.get('is_default'):
                return key, fixture['organizations'][membership['id']]['credits']
    raise AssertionError('no key with a default organization in %s' % FIXTURE)


@pytest.fixture(scope='module')
def tarball(tmp_path_factory):
    with open(os.path.join(COLLECTION_ROOT, 'galaxy.yml')) as handle:
        galaxy = yaml.safe_load(handle)
    output = tmp_path_factory.mktemp('dist')
    subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-galaxy'), 'collection', 'build',
                    '--output-path', str(output), COLLECTION_ROOT], check=True, stdout=subprocess.PIPE)
    path = output / ('%s-%s-%s.tar.gz' % (galaxy['namespace'], galaxy['name'], galaxy['version']))
    assert path.is_file(), path
    return str(path)


@pytest.fixture(scope='module')
def simulator():
    with launcher.running_simulator() as running:
        yield running.url


def run_scenario(name, tmp_path, tarball, simulator_url, with_files=True):
    """The scenario's blocks and then the check blocks, in one shell in a fresh project directory."""
    project, home = tmp_path / 'project', tmp_path / 'home'
    project.mkdir()
    home.mkdir()
    blocks = scenario_blocks(name)
    if with_files:
        write_files(blocks, str(project), tarball)
    env = dict((key, value) for key, value in os.environ.items() if not key.startswith(('ANSIBLE_', 'STABILITY_')))
    env.update(HOME=str(home), PATH=os.pathsep.join([os.path.dirname(sys.executable), env.get('PATH', '')]),
               PIP_DISABLE_PIP_VERSION_CHECK='1', STABILITY_API_KEY=simulator_key()[0], STABILITY_API_URL=simulator_url)
    script = script_of(blocks + scenario_blocks(CHECK), tarball)
    result = subprocess.run(['bash', '-c', script], cwd=str(project), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, check=False)
    return script, result


def test_the_pages_mark_every_scenario():
    found = sorted(set(scenario for block in BLOCKS for scenario in block.scenarios))
    assert found == sorted(SCENARIOS + [CHECK])
    assert [command for block in scenario_blocks(CHECK) for command in block.commands()] == [
        'ansible-doc stabilityai.platform.stability_balance_info',
        'ansible-playbook stabilityai.platform.preflight -e stability_min_credits=0']
    commands = [command for block in BLOCKS for command in block.commands()]
    assert [command for command in commands if ' pip ' in ' %s ' % command] == [], 'the collection needs no Python package'


def test_every_install_command_of_the_docs_is_tested():
    """An ``ansible-galaxy collection install/download`` anywhere in the docs is one a scenario runs."""
    tested = set(command for block in BLOCKS for command in block.commands())
    paths = ['README.md'] + glob.glob(os.path.join(COLLECTION_ROOT, 'docs', '**', '*.*'), recursive=True)
    untested = []
    for path in paths:
        with open(os.path.join(COLLECTION_ROOT, path), errors='replace') as handle:
            text = handle.read()
        for command in GALAXY_COMMAND.findall(text):
            command = command.strip()
            if command not in tested and command not in NOT_AN_INSTALL:
                untested.append('%s: %s' % (os.path.relpath(os.path.join(COLLECTION_ROOT, path), COLLECTION_ROOT), command))
    assert not untested, 'install commands no test runs (mark their block in a page of PAGES):\n%s' % '\n'.join(untested)
    with open(os.path.join(COLLECTION_ROOT, 'docs', 'docsite', 'rst', 'awx.rst')) as handle:
        assert set(NOT_AN_INSTALL) <= set(command.strip() for command in GALAXY_COMMAND.findall(handle.read())), 'NOT_AN_INSTALL is stale'


@pytest.mark.parametrize('name', SCENARIOS)
def test_install_as_the_docs_say_then_ansible_finds_the_collection(name, tmp_path, tarball, simulator):
    script, result = run_scenario(name, tmp_path, tarball, simulator)
    assert result.returncode == 0, 'scenario %s failed:\n--- script\n%s--- output\n%s' % (name, script, result.stdout)
    assert 'stabilityai.platform.stability_balance_info' in result.stdout  # ansible-doc's page
    installed = re.search(r'\((\S+)/ansible_collections/stabilityai/platform/plugins/modules/stability_balance_info\.py\)', result.stdout)
    assert installed, result.stdout
    expected_root = tmp_path / ('project/collections' if name.startswith('project') else 'home/.ansible/collections')
    assert installed.group(1) == str(expected_root), 'ansible-doc found the collection elsewhere:\n%s' % result.stdout
    assert re.search(r'localhost\s*: ok=\d+\s+changed=0\s+unreachable=0\s+failed=0', result.stdout), result.stdout
    assert 'Stability AI pre-flight passed' in result.stdout
    assert '%.2f' % simulator_key()[1] in result.stdout, 'the pre-flight table does not show the simulator\'s balance'


def test_without_collections_path_the_project_install_is_not_found(tmp_path, tarball, simulator):
    """The guard of the test itself: the fresh HOME and the cleaned environment hide every other copy."""
    script, result = run_scenario('project', tmp_path, tarball, simulator, with_files=False)
    assert result.returncode != 0, script
    assert 'stabilityai.platform.stability_balance_info was not found' in result.stdout, result.stdout
    assert (tmp_path / 'project' / 'collections' / 'ansible_collections' / 'stabilityai' / 'platform' / 'galaxy.yml').exists() or (
        tmp_path / 'project' / 'collections' / 'ansible_collections' / 'stabilityai' / 'platform' / 'MANIFEST.json').exists()
