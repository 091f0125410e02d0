# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Where the unit tests' temporary folders go (conftest.py, pytest_configure): not /tmp/pytest-of-USER.

ansible-test units runs pytest with no --basetemp; a --basetemp of your own moves them elsewhere and fails this test.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os


def test_temporary_folders_are_kept_with_ansible_tests_state(tmp_path):
    root = os.path.realpath(os.path.join(os.path.expanduser('~'), '.ansible', 'test', 'tmp'))
    assert str(tmp_path.resolve()).startswith(root + os.sep), tmp_path
