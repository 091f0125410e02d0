# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""tools/harness.py: which line and Python the product's tests run on, the matrix, the banner, the collection copy.

Run by the ``harness`` session of noxfile.py (pytest from the collection root).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402 pylint: disable=wrong-import-position

ALL = {'3.11': '/py/3.11', '3.12': '/py/3.12', '3.13': '/py/3.13'}


@pytest.fixture(autouse=True)
def no_shared_venv(monkeypatch):
    monkeypatch.delenv('STABILITY_VENV', raising=False)


def test_the_lines_are_the_requirement_files_with_their_pythons():
    assert harness.lines() == {'2.19': '3.11', '2.20': '3.12', '2.21': '3.13'}


@pytest.mark.parametrize('found, chosen, matrix', [
    (ALL, ('2.21', '3.13'), ['2.19', '2.20']),
    ({'3.11': '/py/3.11', '3.12': '/py/3.12'}, ('2.21', '3.12'), ['2.19', '2.20']),
    ({'3.11': '/py/3.11', '3.13': '/py/3.13'}, ('2.21', '3.13'), ['2.19']),
    ({'3.11': '/py/3.11'}, ('2.19', '3.11'), []),
])
def test_the_newest_line_on_the_newest_python_else_the_oldest_line_on_3_11(found, chosen, matrix):
    assert harness.choose(found) == chosen
    assert harness.matrix(found) == matrix


def test_the_banner_names_the_choice_the_matrix_and_what_is_left_out():
    assert harness.banner(ALL) == ('tests/run-tests.sh: ansible-core 2.21 on Python 3.13 (/py/3.13) for sanity, units and integration; '
                                   'matrix: 2.19 on 3.11, 2.20 on 3.12')
    only_311 = harness.banner({'3.11': '/py/3.11'})
    assert only_311.startswith('tests/run-tests.sh: ansible-core 2.19 on Python 3.11 (/py/3.11) for sanity, units and integration '
                               '(no Python 3.12 or newer here')
    assert only_311.endswith('matrix: none; left out: 2.20 (needs Python 3.12), 2.21 (needs Python 3.13)')


def test_a_shared_venv_runs_no_matrix_and_says_so(monkeypatch):
    monkeypatch.setenv('STABILITY_VENV', '/shared/venv')
    assert harness.matrix(ALL) == []
    assert harness.banner(ALL).startswith('tests/run-tests.sh: STABILITY_VENV=/shared/venv: every session runs with its Python')


def test_find_python_takes_only_an_interpreter_of_that_version(monkeypatch, tmp_path):
    monkeypatch.setenv('PYENV_ROOT', str(tmp_path))
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))
    this = '%d.%d' % sys.version_info[:2]
    other = '3.%d' % (sys.version_info[1] + 1)
    for version in (this, other):  # a python<other> that is really this Python must not count
        bindir = tmp_path / 'versions' / (version + '.0') / 'bin'
        bindir.mkdir(parents=True)
        (bindir / ('python' + version)).symlink_to(sys.executable)
    assert harness.find_python(this) == str(tmp_path / 'versions' / (this + '.0') / 'bin' / ('python' + this))
    assert harness.find_python(other) is None


def test_the_copy_holds_what_git_sees_as_its_own_repository(monkeypatch, tmp_path):
    monkeypatch.setattr(harness, 'COPIES', tmp_path)
    dest = harness.collection_copy('one session')
    assert dest == tmp_path / 'one-session' / 'ansible_collections' / 'stabilityai' / 'platform'
    files = subprocess.run(['git', 'ls-files'], cwd=str(dest), stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    assert 'galaxy.yml' in files and 'tools/harness.py' in files and 'tests/simulator/stability_simulator.py' in files


def test_the_get_pip_stand_in_goes_where_this_ansible_test_looks(monkeypatch, tmp_path):
    monkeypatch.setenv('HOME', str(tmp_path))
    target = harness.install_get_pip_standin(sys.executable)
    assert target.parent == tmp_path / '.ansible' / 'test' / 'cache'
    assert target.name.startswith('get_pip_') and target.read_bytes() == harness.GET_PIP_STANDIN.read_bytes()


def test_git_in_the_scratch_tmpdir_finds_no_repository_around_it(monkeypatch, tmp_path):
    """antsibull-nox copies the collection into TMPDIR for docs-check, and antsibull-docs finds no plugin
    there when git answers for the checkout around it (which ignores .nox/)."""
    monkeypatch.setattr(os, 'environ', dict(os.environ))
    monkeypatch.delenv('GIT_CEILING_DIRECTORIES', raising=False)
    for name in ('HOME', 'TMP', 'CACHE', 'COPIES'):
        monkeypatch.setattr(harness, name, tmp_path / '.nox' / 'scratch' / name.lower())
    subprocess.run(['git', 'init', '-q', str(tmp_path)], check=True)
    harness.prepare_environment()
    inside = harness.TMP / 'antsibull-nox-docs-check-collection-root-x'
    inside.mkdir()
    found = subprocess.run(['git', 'rev-parse', '--show-toplevel'], cwd=str(inside), env=os.environ,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
    assert found.returncode != 0 and 'not a git repository' in found.stderr


def test_the_noxfile_script_block_asks_for_what_run_tests_sh_installs_in_a_plain_venv():
    """``nox -l`` in a fresh clone (nox reads the block) and tests/run-tests.sh (tools/requirements-nox.txt) get the same nox and
    antsibull-nox; nox makes their venv with the standard library's venv, which writes nothing in the user's home."""
    block = re.search(r'^# /// script\n((?:#.*\n)*?)# ///$', (harness.REPO / 'noxfile.py').read_text(encoding='utf-8'), re.MULTILINE)
    script = tomllib.loads(''.join(line[2:] + '\n' for line in block.group(1).splitlines()))
    lines = (harness.REPO / 'tools' / 'requirements-nox.txt').read_text(encoding='utf-8').splitlines()
    assert script['dependencies'] == [line for line in lines if line.strip() and not line.startswith('#')]
    assert script['tool']['nox']['script-venv-backend'] == 'venv'
