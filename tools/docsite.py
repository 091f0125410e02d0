# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The ``docs`` session's steps: the collection's documentation site rendered offline, any warning fails it.

The plugin reference from the plugins' own documentation and the guides of docs/docsite (extra-docs.yml,
links.yml), as HTML with antsibull-docs and Sphinx, after ``antsibull-docs lint-collection-docs``.
Runs from the collection copy (noxfile.py, ``in_copy``) with ANSIBLE_COLLECTIONS_PATH naming its tree.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

COLLECTION = 'stabilityai.platform'
PROBLEM = re.compile(r'\b(WARNING|ERROR)\b')
# antsibull-docs 2.28 lints plugin pages rendered from a copy of the collection in a temporary directory
# named antsibull-docs-XXXXXXXX, and with links.yml's edit_on_github the page's github_url holds a path
# through it. When the random part ends in "_", docutils reads it as a link target and reports
# 'Unknown target name: "antsibull-docs-..."' (about one run in 37): such a run, and only such a run, is repeated.
TEMP_DIR_FALSE_POSITIVE = 'Unknown target name: "antsibull-docs-'

# antsibull-docs logs everything to ~/antsibull.log unless its configuration says otherwise: keep only its
# warnings and errors, on stderr, where run_strict reads them.
LOGGING_CFG = """
# noxfile.py docs session: warnings and errors to stderr; no ~/antsibull.log.
logging_cfg = {
    version = 1.0
    outputs = {
        stderr = {
            output = twiggy.outputs.StreamOutput
            format = twiggy.formats.shell_format
        }
    }
    emitters = {
        problems = {
            level = WARNING
            output_name = stderr
        }
    }
}
"""
# No intersphinx inventories to download, so references into docs.ansible.com cannot be resolved and are not reported.
OFFLINE_CONF = """
# noxfile.py docs session: an offline build.
intersphinx_mapping = {}
suppress_warnings = ['ref.ref']
"""


class DocsError(Exception):
    """A docs step failed; the message says which and why (its output is printed already)."""


def run_strict(argv, cwd=None):
    """Run argv, print its output; fail when it exits non-zero or says WARNING or ERROR.  Returns the output."""
    result = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    print(result.stdout, end='', flush=True)
    problems = [line for line in result.stdout.splitlines() if PROBLEM.search(line)]
    if result.returncode or problems:
        raise DocsError('%s: exit %d, %d warning or error lines%s' % (
            argv[0], result.returncode, len(problems), (':\n' + '\n'.join(problems)) if problems else ''))
    return result.stdout


def lint_collection_docs(config, attempts=3):
    argv = ['antsibull-docs', '--config-file', config, 'lint-collection-docs', '--plugin-docs',
            '--validate-collection-refs', 'all', '--disallow-unknown-collection-refs', '.']
    for attempt in range(1, attempts + 1):
        try:
            return run_strict(argv)
        except DocsError as error:
            others = [line for line in str(error).splitlines()[1:] if TEMP_DIR_FALSE_POSITIVE not in line]
            if attempt == attempts or others or TEMP_DIR_FALSE_POSITIVE not in str(error):
                raise
            print("lint-collection-docs: antsibull-docs' temporary directory ended in '_' (a false positive); again", flush=True)
    return None


def build(dest):
    """Lint the collection docs (cwd: the collection copy), then render the site into ``dest``."""
    dest = Path(dest).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    os.chmod(dest, 0o755)  # antsibull-docs refuses a destination that others may write to
    config = dest.parent / (dest.name + '-antsibull-docs.cfg')
    config.write_text(LOGGING_CFG, encoding='utf-8')
    lint_collection_docs(str(config))
    run_strict(['antsibull-docs', '--config-file', str(config), 'sphinx-init', '--use-current', '--dest-dir', str(dest),
                '--project', COLLECTION, '--title', COLLECTION, COLLECTION])
    # The site's first page is the collection's own, not sphinx-init's "Welcome to my Ansible collection
    # documentation" (antsibull-docs keeps rst/index.rst: it is not one of its pages).
    (dest / 'rst' / 'index.rst').write_text(Path('docs/docsite/site-index.rst').read_text(encoding='utf-8'), encoding='utf-8')
    with open(dest / 'conf.py', 'a', encoding='utf-8') as handle:
        handle.write(OFFLINE_CONF)
    with open(dest / 'antsibull-docs.cfg', 'a', encoding='utf-8') as handle:  # build.sh passes it to antsibull-docs
        handle.write(LOGGING_CFG)
    # build.sh runs `antsibull-docs collection` and then `sphinx-build -W --keep-going`.
    run_strict([str(dest / 'build.sh')], cwd=str(dest))
    html = dest / 'build' / 'html'
    if not (html / 'collections' / 'stabilityai' / 'platform' / 'index.html').is_file():
        raise DocsError('no collection index page in %s' % html)
    if 'Three ways to gate a play on credits' not in (html / 'index.html').read_text(encoding='utf-8'):
        raise DocsError("the site's first page is not the collection's own (docs/docsite/site-index.rst)")
    return html / 'index.html'


def main(argv):
    if len(argv) != 1:
        print('usage: python tools/docsite.py DEST   (from the collection copy; noxfile.py docs session)')
        return 2
    try:
        index = build(argv[0])
    except DocsError as error:
        print('docs: %s' % error)
        return 1
    print('docs built without warnings: %s' % index)
    return 0


if __name__ == '__main__':
    import sys
    sys.exit(main(sys.argv[1:]))
