# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""How thresholds and balances are worded for people."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.stabilityai.platform.plugins.module_utils._errors import PLACEHOLDER
from ansible_collections.stabilityai.platform.plugins.module_utils._gating import format_credits, format_threshold, organization_label, shortfall


@pytest.mark.parametrize('credits, threshold, text', [
    (1532.6336833840314, None, '1532.63'),
    (0.0, None, '0.00'),
    (12.5, 100.0, '12.50'),
    (-250.0, 0.0, '-250.00'),
    (99.994, 100.0, '99.99'),
    (99.999, 100.0, '99.999'),  # two decimals would read 100.00, as if the threshold were met
    (-0.001, 0.0, '-0.001'),  # and -0.00 as if it were not overdrawn
    (99.999, 99.999, '100.00'),  # a balance equal to the threshold is no shortfall
])
def test_balances_have_two_decimals_unless_they_would_hide_a_shortfall(credits, threshold, text):
    assert format_credits(credits, threshold) == text


@pytest.mark.parametrize('credits, text', [(1.7e308, '1.7e+308'), (-1.7e308, '-1.7e+308'), (1e15, '1e+15'), (999999999999999.0, '999999999999999.00')])
def test_huge_balances_have_three_significant_digits_not_hundreds_of_digits(credits, text):
    assert format_credits(credits) == format_credits(credits, 0.0) == text


@pytest.mark.parametrize('threshold, text', [(100.0, '100.00'), (0.5, '0.50'), (99.999, '99.999'), (1e3, '1000.00')])
def test_thresholds_have_two_decimals_when_that_is_exact(threshold, text):
    assert format_threshold(threshold) == text


def test_a_balance_just_below_the_threshold_never_reads_as_equal_to_it():
    assert shortfall('min_credits', 100.0, [('org-a', 99.999)]) == 'Credits are below min_credits 100.00: org-a has 99.999'


def test_balances_at_or_above_the_threshold_pass():
    assert shortfall('min_credits', 100.0, [('org-a', 100.0), ('org-b', 1e6)]) is None
    assert shortfall('min_credits', None, [('org-a', -5.0)]) is None


def test_an_organization_is_named_on_one_printable_line_whatever_its_name():
    """Any member can name an organization: a name must not forge a line or colour the terminal in a message."""
    name = 'A\r\nok: [localhost] => spoof\x1b[31m\u202e'
    assert organization_label('org-a', name) == 'org-a (A ok: [localhost] => spoof%s[31m%s)' % (PLACEHOLDER, PLACEHOLDER)
    assert organization_label('org\x1b-a') == 'org%s-a' % PLACEHOLDER
    assert organization_label(None, name) == "the key's default organization"
