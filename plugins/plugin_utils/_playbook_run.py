# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This plugin_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""Which ``ansible-playbook`` run the current process belongs to: the scope of the lookup's cache.

Ansible evaluates a lookup in worker processes it forks from the ``ansible-playbook`` process,
and sometimes in that process itself.  A fork runs the same program as its parent, with the same
command line, so the run's process is the oldest ancestor (this process included) that still has
this process's command line.  The shell or CI runner that started the run has another one, and so
has whatever started an ``ansible-playbook`` from a task of another run (a module's process).

A run is named by that process's id AND its start time (``/proc/<pid>/stat`` field 22, clock
ticks since boot) AND the boot: a process id alone comes back in a later run, and so does a
start time after a reboot.  Linux only: elsewhere RunUnknown, and the caller does without.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

PROC = '/proc'
MAX_DEPTH = 64  # forks of forks: far more than Ansible makes, and a bound on a walk through a strange table


class RunUnknown(Exception):
    """The process table cannot tell this run from another (no ``/proc``, or an unreadable one)."""


def _read(*parts):
    with open(os.path.join(PROC, *parts), 'rb') as handle:
        return handle.read()


def process_stat(pid):
    """(parent pid, start time in clock ticks since boot) of ``pid``: fields 4 and 22 of ``/proc/<pid>/stat``.

    The second field, the command's name, is in parentheses and may hold spaces and parentheses
    itself, so the fields are counted from the last ``)``.
    """
    data = _read(str(pid), 'stat')
    fields = data.rpartition(b')')[2].split()  # fields 3 (state) onwards
    return int(fields[1]), int(fields[19])


def _command_line(pid):
    """The command line of ``pid``, or None when it has gone (or is hidden)."""
    try:
        return _read(str(pid), 'cmdline')
    except OSError:
        return None


def run_identity():
    """``boot/pid/start`` of the run this process belongs to; RunUnknown when the process table cannot tell."""
    try:
        pid = os.getpid()
        command = _read(str(pid), 'cmdline')
        parent, started = process_stat(pid)
        for dummy in range(MAX_DEPTH):
            if _command_line(parent) != command:  # pid 0, init's parent, has none
                break
            pid = parent
            parent, started = process_stat(pid)
        boot = _read('sys', 'kernel', 'random', 'boot_id').strip().decode()
    except (OSError, ValueError, IndexError, UnicodeDecodeError) as exc:
        raise RunUnknown('%s cannot tell one ansible-playbook run from another (%s)' % (PROC, exc))
    return '%s/%d/%d' % (boot, pid, started)
