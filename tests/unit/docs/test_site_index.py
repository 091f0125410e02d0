# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Where a user starts, every page and every plugin is listed: the docs site's first page, the guide, the README.

A new page in docs/docsite/rst/ or a new plugin, playbook or event source that one of these does
not link fails here.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import yaml

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
RST = os.path.join(COLLECTION_ROOT, 'docs', 'docsite', 'rst')
PLUGIN_TYPES = {'modules': 'module', 'lookup': 'lookup', 'callback': 'callback'}


def read(*path):
    with open(os.path.join(COLLECTION_ROOT, *path)) as handle:
        return handle.read()


def pages():
    return sorted(name[:-len('.rst')] for name in os.listdir(RST) if name.endswith('.rst'))


def plugins():
    """``(name, type)`` of every public plugin: what antsibull-docs gives a page of its own."""
    found = []
    for folder, kind in sorted(PLUGIN_TYPES.items()):
        directory = os.path.join(COLLECTION_ROOT, 'plugins', folder)
        found.extend((name[:-3], kind) for name in sorted(os.listdir(directory)) if name.endswith('.py') and not name.startswith('_'))
    return found


def reference_pages():
    """The playbooks and event sources, which ansible-doc does not show: each has a page of its own."""
    names = [name[:-4] for name in os.listdir(os.path.join(COLLECTION_ROOT, 'playbooks')) if name.endswith('.yml')]
    sources = os.path.join(COLLECTION_ROOT, 'extensions', 'eda', 'plugins', 'event_source')
    names.extend(name[:-3] for name in os.listdir(sources) if name.endswith('.py') and not name.startswith('_'))
    return sorted(names)


def label(page):
    return 'ansible_collections.stabilityai.platform.docsite.%s' % page


def test_the_listings_are_not_empty():
    assert {'guide', 'credits', 'monitoring', 'preflight', 'credit_balance'} <= set(pages())
    assert ('credit_recap', 'callback') in plugins() and ('stability_balance', 'lookup') in plugins()
    assert reference_pages() == ['credit_balance', 'preflight']


def test_every_page_is_in_the_site():
    listed = [page for section in yaml.safe_load(read('docs', 'docsite', 'extra-docs.yml'))['sections'] for page in section['toctree']]
    assert sorted(listed) == pages()


@pytest.mark.parametrize('start', ['docs/docsite/site-index.rst', 'docs/docsite/rst/guide.rst'])
def test_the_first_page_and_the_guide_link_every_page_and_plugin(start):
    text = read(*start.split('/'))
    missing = [page for page in pages() if label(page) not in text and not start.endswith('/%s.rst' % page)]
    missing.extend('%s (%s)' % plugin for plugin in plugins() if 'stabilityai.platform.%s#%s' % plugin not in text)
    assert not missing, '%s does not link: %s' % (start, ', '.join(missing))


def test_every_playbook_and_event_source_has_its_reference_page():
    assert set(reference_pages()) <= set(pages())


def test_the_readme_links_every_page():
    text = read('README.md')
    missing = [page for page in pages() if '(docs/docsite/rst/%s.rst)' % page not in text]
    assert not missing, 'README.md does not link: %s' % ', '.join(missing)
