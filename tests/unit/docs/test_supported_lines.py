# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The ansible-core lines the docs say are tested are the lines the tests run on.

The lines are the files tests/requirements/ansible-core-X.Y.txt (the sessions and the CI matrix
read them); the README, CONTRIBUTING.md, the guides and the example environments repeat them in a
few fixed phrasings.  Each phrasing is found with a pattern and compared with the files, and each
pattern must match somewhere, so adding a line (or dropping one) cannot leave a doc behind.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

import pytest

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))


def version_key(line):
    return tuple(int(part) for part in line.split('.'))


def requirement_lines():
    """The lines of tests/requirements/ansible-core-X.Y.txt, oldest first."""
    names = os.listdir(os.path.join(COLLECTION_ROOT, 'tests', 'requirements'))
    found = [match.group(1) for match in (re.match(r'^ansible-core-(\d+\.\d+)\.txt$', name) for name in names) if match]
    assert found, 'no tests/requirements/ansible-core-X.Y.txt'
    return sorted(found, key=version_key)


def docs():
    """``{path: text}`` of every doc that names the lines: README, CONTRIBUTING, the guides, the example environments."""
    paths = ['README.md', 'CONTRIBUTING.md']
    for folder, suffix in (('docs/docsite/rst', '.rst'), ('docs/examples', '.yml')):
        for directory, dummy, names in os.walk(os.path.join(COLLECTION_ROOT, folder)):
            paths.extend(os.path.relpath(os.path.join(directory, name), COLLECTION_ROOT) for name in names if name.endswith(suffix))
    texts = {}
    for path in sorted(paths):
        with open(os.path.join(COLLECTION_ROOT, path)) as handle:
            texts[path] = re.sub(r'\s+', ' ', handle.read())
    return texts


def every_line(match):
    return re.findall(r'\d+\.\d+', match.group(1))


def both_ends(match):
    """``2.19 to 2.21`` (the first line and the last) or ``>=2.19,<2.22`` (the first and the one after the last)."""
    return [match.group(1), match.group(2)]


LINES = requirement_lines()
NEXT = '%s.%d' % (LINES[-1].split('.')[0], int(LINES[-1].split('.')[1]) + 1)
# (phrasing, pattern, what the match gives, what it must give)
PHRASINGS = [
    ('a list of the lines', r'(?:tested with|today) ((?:\d+\.\d+, )+\d+\.\d+,? and \d+\.\d+)', every_line, LINES),
    ('a list of the lines, tested', r'ansible-core ((?:\d+\.\d+, )+\d+\.\d+,? and \d+\.\d+) are tested', every_line, LINES),
    ('a range of lines', r'ansible-core (\d+\.\d+) to (\d+\.\d+)\b', both_ends, [LINES[0], LINES[-1]]),
    ('a pip specifier', r'ansible-core>=(\d+\.\d+),<(\d+\.\d+)', both_ends, [LINES[0], NEXT]),
]


@pytest.mark.parametrize('what, pattern, found, expected', PHRASINGS, ids=[phrasing[0] for phrasing in PHRASINGS])
def test_the_docs_name_the_tested_lines(what, pattern, found, expected):
    matches = [(path, match.group(0), found(match)) for path, text in docs().items() for match in re.finditer(pattern, text)]
    assert matches, 'no doc names the lines as %s any more: drop the pattern or restore the text' % what
    wrong = [(path, phrase) for path, phrase, lines in matches if lines != expected]
    assert not wrong, 'the tested lines are %s (tests/requirements), but the docs say: %s' % (expected, wrong)
