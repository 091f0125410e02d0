# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""tests/run-demo.sh --help: a usage text, at once, and nothing else."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), '..', '..', 'run-demo.sh')


@pytest.mark.parametrize('option', ['--help', '-h'])
def test_help_prints_the_usage_and_exits_without_running_the_demo(tmp_path, option):
    # An empty PATH apart from bash's own: the demo would need python and ansible-playbook.
    result = subprocess.run(['bash', SCRIPT, option], capture_output=True, text=True, timeout=30, check=False,
                            env={'PATH': '/usr/bin:/bin', 'HOME': str(tmp_path), 'STABILITY_VENV': str(tmp_path / 'no-venv')})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('usage: tests/run-demo.sh [ANSIBLE-PLAYBOOK-OPTION...]\n')
    assert 'stability_min_credits=5000' in result.stdout
    assert result.stderr == ''
    assert os.listdir(str(tmp_path)) == []  # no virtualenv built, nothing started
