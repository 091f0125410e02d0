# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """Attributes of the read-only modules, documented once."""

    INFO_MODULE = r'''
attributes:
  check_mode:
    support: full
    description: Can run in C(check_mode) and return the same information, since the module only reads.
  diff_mode:
    support: N/A
    description: The module changes nothing, so there is nothing to show a difference of.
  action_group:
    support: full
    membership:
      - stabilityai.platform.stability
    description: Use C(group/stabilityai.platform.stability) in C(module_defaults) to set the connection options once.
'''
