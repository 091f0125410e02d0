# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which ansible-playbook run a process belongs to: forks of one run share it, separate runs never do.

Most tests plant a process table (``PROC`` pointed at a folder laid out as ``/proc``); the last ones
start real processes: forks, and separate programs started one after the other from one parent,
as a CI shell starts two ``ansible-playbook`` runs.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess
import sys

import pytest

from ansible_collections.stabilityai.platform.plugins.plugin_utils import _playbook_run
from ansible_collections.stabilityai.platform.plugins.plugin_utils._playbook_run import RunUnknown, process_stat, run_identity

BOOT = 'c0ffee00-0000-4000-8000-000000000001'
PLAYBOOK = b'/usr/bin/python3\x00/usr/bin/ansible-playbook\x00site.yml\x00'
SHELL = b'/bin/bash\x00ci.sh\x00'


def stat_line(pid, parent, started, name='python3'):
    """A /proc/<pid>/stat line: pid (comm) state ppid, then fields 5 to 21 and the start time as field 22."""
    return ('%d (%s) S %d ' % (pid, name, parent) + ' '.join(['0'] * 17) + ' %d 0 0\n' % started).encode()


@pytest.fixture
def table(tmp_path, monkeypatch):
    """Plant processes: ``table(pid, parent, started, command)``; this process is os.getpid()."""
    monkeypatch.setattr(_playbook_run, 'PROC', str(tmp_path))
    (tmp_path / 'sys' / 'kernel' / 'random').mkdir(parents=True)
    (tmp_path / 'sys' / 'kernel' / 'random' / 'boot_id').write_text(BOOT + '\n')

    def plant(pid, parent, started, command, name='python3'):
        folder = tmp_path / str(pid)
        folder.mkdir()
        (folder / 'stat').write_bytes(stat_line(pid, parent, started, name))
        (folder / 'cmdline').write_bytes(command)
    return plant


def test_the_start_time_is_field_22_counted_after_a_name_with_spaces_and_parentheses(table):
    table(4321, 77, 9876543, PLAYBOOK, name='a) b (c')
    assert process_stat(4321) == (77, 9876543)


def test_a_worker_belongs_to_the_ansible_playbook_process_it_was_forked_from(table):
    me = os.getpid()
    table(me, 500, 3000, PLAYBOOK)
    table(500, 400, 2000, PLAYBOOK)
    table(400, 1, 1000, SHELL)
    assert run_identity() == '%s/500/2000' % BOOT


def test_the_ansible_playbook_process_itself_is_its_own_run(table):
    me = os.getpid()
    table(me, 400, 2000, PLAYBOOK)
    table(400, 1, 1000, SHELL)
    assert run_identity() == '%s/%d/2000' % (BOOT, me)


def test_a_process_id_used_again_by_a_later_run_is_another_run(table, tmp_path):
    me = os.getpid()
    table(me, 500, 3000, PLAYBOOK)
    table(500, 1, 2000, PLAYBOOK)
    first = run_identity()
    (tmp_path / '500' / 'stat').write_bytes(stat_line(500, 1, 2600))
    assert run_identity() != first
    (tmp_path / 'sys' / 'kernel' / 'random' / 'boot_id').write_text(BOOT.replace('1', '2') + '\n')  # the same start, after a reboot
    (tmp_path / '500' / 'stat').write_bytes(stat_line(500, 1, 2000))
    assert run_identity() not in (first, '%s/500/2600' % BOOT)


def test_a_run_started_from_a_task_of_another_run_is_a_run_of_its_own(table):
    """The inner ansible-playbook's parent is the outer run's module process: another command line."""
    me = os.getpid()
    table(me, 600, 5000, PLAYBOOK)
    table(600, 550, 4900, PLAYBOOK)
    table(550, 500, 4800, b'/usr/bin/python3\x00/root/.ansible/tmp/AnsiballZ_command.py\x00')
    table(500, 400, 2000, PLAYBOOK)
    table(400, 1, 1000, SHELL)
    assert run_identity() == '%s/600/4900' % BOOT


def test_a_parent_that_is_gone_ends_the_walk(table):
    me = os.getpid()
    table(me, 999, 3000, PLAYBOOK)  # 999 has no entry: it exited, and this worker was left behind
    assert run_identity() == '%s/%d/3000' % (BOOT, me)


def test_the_walk_is_bounded_even_through_a_table_that_loops(table):
    me = os.getpid()
    table(me, 701, 3000, PLAYBOOK)
    table(701, 702, 3001, PLAYBOOK)
    table(702, 701, 3002, PLAYBOOK)
    assert run_identity() in ('%s/701/3001' % BOOT, '%s/702/3002' % BOOT)


@pytest.mark.parametrize('damage', ['no stat', 'stat without fields', 'no boot id'])
def test_a_table_that_cannot_tell_raises_run_unknown_in_one_line(table, tmp_path, damage):
    me = os.getpid()
    table(me, 400, 2000, PLAYBOOK)
    table(400, 1, 1000, SHELL)
    if damage == 'no stat':
        os.unlink(str(tmp_path / str(me) / 'stat'))
    elif damage == 'stat without fields':
        (tmp_path / str(me) / 'stat').write_bytes(b'%d (python3) S' % me)
    else:
        os.unlink(str(tmp_path / 'sys' / 'kernel' / 'random' / 'boot_id'))
    with pytest.raises(RunUnknown) as caught:
        run_identity()
    assert str(caught.value).startswith('%s cannot tell one ansible-playbook run from another (' % tmp_path)
    assert len(str(caught.value).splitlines()) == 1


def test_without_a_process_table_the_run_is_unknown(tmp_path, monkeypatch):
    monkeypatch.setattr(_playbook_run, 'PROC', str(tmp_path / 'none'))
    with pytest.raises(RunUnknown):
        run_identity()


# --- real processes ---------------------------------------------------------------------------

IDENTITY_OF = (
    'import os, sys\n'
    'from ansible_collections.stabilityai.platform.plugins.plugin_utils._playbook_run import run_identity\n'
    'mine = run_identity()\n'
    'reader, writer = os.pipe()\n'
    'if os.fork() == 0:\n'
    '    os.write(writer, run_identity().encode())\n'
    '    os._exit(0)\n'
    'os.wait()\n'
    'print(mine, os.read(reader, 200).decode())\n'
)


def run_program():
    """Start a program as a CI shell starts ansible-playbook: it prints its run and its fork's."""
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    output = subprocess.check_output([sys.executable, '-c', IDENTITY_OF], env=environment, timeout=60)
    return output.decode().split()


def test_forks_of_one_program_share_its_run_and_two_programs_started_in_turn_do_not():
    first, first_fork = run_program()
    second, second_fork = run_program()
    assert first == first_fork and second == second_fork
    assert first != second
    assert first != run_identity()  # nor is either the run of the process that started them


def test_a_fork_of_this_process_is_in_this_run():
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.write(writer, run_identity().encode())
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    os.close(writer)
    assert os.read(reader, 200).decode() == run_identity()
    os.close(reader)
