# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The release artefact: what ``ansible-galaxy collection build`` makes, and what Galaxy says of it.

* The tarball holds exactly the files git knows about, less what ``build_ignore`` in galaxy.yml
  leaves out, plus MANIFEST.json and FILES.json: nothing generated (virtualenvs, caches,
  ansible-test output, built tarballs, benchmark results) can slip in, and nothing of the product
  can be left out by an over-eager pattern.
* Independently of galaxy.yml, no member matches a list of things that never belong in a release.
* ``galaxy-importer`` (the code Galaxy and Automation Hub run on upload) imports it without a
  single warning or error.  Its ansible-test run stays off: it needs a container engine, and
  ``tests/run-tests.sh`` runs ansible-test itself.  Its ansible-lint run stays on.

Run by ``tests/run-tests.sh build`` (pytest from the collection root).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# What ansible-galaxy always leaves out, besides build_ignore (ansible.galaxy.collection).
BUILD_ALWAYS_IGNORED = ['MANIFEST.json', 'FILES.json', 'galaxy.yml', 'galaxy.yaml', '.git', '*.pyc', '*.retry', 'tests/output']
BUILD_IGNORED_DIRS = frozenset(['CVS', '.bzr', '.hg', '.git', '.svn', '__pycache__', '.tox'])

# Never in a release, whatever galaxy.yml says.
FORBIDDEN = [
    re.compile(pattern) for pattern in (
        r'(^|/)\.venv',
        r'(^|/)__pycache__/',
        r'\.py[co]$',
        r'(^|/)\.git(/|$)',
        r'(^|/)\.(pytest_cache|hypothesis|ansible|tox)/',
        r'^tests/output/',
        r'^tests/integration/inventory$',
        r'^tools/',
        r'^\.github/',
        r'(^|/)results/.*\.json$',
        r'^dist/',
        r'^collections/',
        r'\.tar\.gz$',
        r'^changelogs/\.plugin-cache\.yaml$',
        r'^docs/examples/execution-environment/context/',
        r'^docs/examples/eda/context/',
    )
]

# The product: a tarball without any of these is broken.
REQUIRED = [
    'MANIFEST.json',
    'FILES.json',
    'README.md',
    'SECURITY.md',
    'COPYING',
    'CHANGELOG.md',
    'changelogs/changelog.yaml',
    'requirements.txt',
    'meta/runtime.yml',
    'meta/execution-environment.yml',
    'meta/ee-requirements.txt',
    'plugins/modules/stability_account_info.py',
    'plugins/modules/stability_balance_info.py',
    'plugins/lookup/stability_balance.py',
    'plugins/callback/credit_recap.py',
    'plugins/doc_fragments/_connection.py',
    'plugins/doc_fragments/_attributes.py',
    'plugins/module_utils/_client.py',
    'plugins/plugin_utils/_cache.py',
    'plugins/plugin_utils/_credit_watch.py',
    'extensions/eda/plugins/event_source/credit_balance.py',
    'playbooks/preflight.yml',
    'docs/docsite/extra-docs.yml',
    'docs/docsite/links.yml',
    'docs/docsite/rst/guide.rst',
    'docs/docsite/rst/awx.rst',
    'docs/docsite/rst/credits.rst',
    'docs/examples/ci/github-actions.yml',
    'docs/examples/ci/gitlab-ci.yml',
    'docs/docsite/rst/eda.rst',
    'docs/examples/eda/credit_thresholds.yml',
    'docs/examples/eda/decision-environment.yml',
    'tests/simulator/stability_simulator.py',
    'tests/simulator/launcher.py',
    'tests/simulator/fixtures/default.json',
]

IMPORTER_CONFIG = """[galaxy-importer]
RUN_ANSIBLE_TEST = False
RUN_ANSIBLE_LINT = True
OFFLINE_ANSIBLE_LINT = True
RUN_ANSIBLE_DOC = True
CHECK_CHANGELOG = True
LOG_LEVEL_MAIN = INFO
"""
IMPORTER_PROBLEM = re.compile(r'^\s*(WARNING|ERROR|CRITICAL)\b')


def tool_environment():
    """The environment with this interpreter's scripts (the test venv) first on PATH."""
    env = dict(os.environ)
    env['PATH'] = os.pathsep.join([os.path.dirname(sys.executable), env.get('PATH', '')])
    return env


def run(argv, cwd=None, env=None):
    result = subprocess.run(argv, cwd=cwd, env=env or tool_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, check=False)
    assert result.returncode == 0, '%s exited %d:\n%s' % (' '.join(argv), result.returncode, result.stdout)
    return result.stdout


def source_files():
    """The files of the checkout as git sees them (tracked, and untracked but not ignored)."""
    output = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], cwd=COLLECTION_ROOT,
                            stdout=subprocess.PIPE, check=True).stdout.decode('utf-8')
    return set(path for path in output.split('\0') if path and os.path.isfile(os.path.join(COLLECTION_ROOT, path)))


def build_ignored(path, patterns):
    """Whether ansible-galaxy leaves ``path`` out: it or one of its parent directories matches."""
    parts = path.split('/')
    for depth in range(1, len(parts) + 1):
        prefix = '/'.join(parts[:depth])
        if depth < len(parts) and parts[depth - 1] in BUILD_IGNORED_DIRS:
            return True
        if any(fnmatch.fnmatch(prefix, pattern) for pattern in patterns):
            return True
    return False


@pytest.fixture(scope='module')
def galaxy():
    with open(os.path.join(COLLECTION_ROOT, 'galaxy.yml')) as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope='module')
def tarball(tmp_path_factory, galaxy):
    output = tmp_path_factory.mktemp('dist')
    run([shutil.which('ansible-galaxy', path=tool_environment()['PATH']) or 'ansible-galaxy',
         'collection', 'build', '--output-path', str(output), COLLECTION_ROOT])
    path = output / ('%s-%s-%s.tar.gz' % (galaxy['namespace'], galaxy['name'], galaxy['version']))
    assert path.is_file(), 'ansible-galaxy collection build did not write %s' % path
    return path


@pytest.fixture(scope='module')
def members(tarball):
    with tarfile.open(str(tarball)) as archive:
        return dict((member.name, member) for member in archive.getmembers())


@pytest.fixture(scope='module')
def member_files(members):
    return set(name for name, member in members.items() if not member.isdir())


def test_tarball_holds_every_source_file_except_build_ignore(galaxy, member_files):
    patterns = BUILD_ALWAYS_IGNORED + list(galaxy.get('build_ignore') or [])
    expected = set(path for path in source_files() if not build_ignored(path, patterns)) | {'MANIFEST.json', 'FILES.json'}
    unexpected = sorted(member_files - expected)
    missing = sorted(expected - member_files)
    assert not unexpected, 'in the tarball but not a source file of the checkout (generated?): %s' % unexpected
    assert not missing, 'source files missing from the tarball (build_ignore too wide?): %s' % missing


def test_tarball_holds_nothing_that_never_belongs_in_a_release(members):
    bad = sorted(name for name in members if any(pattern.search(name) for pattern in FORBIDDEN))
    assert not bad, 'tarball members that never belong in a release: %s' % bad


def test_tarball_holds_the_product(member_files):
    missing = [path for path in REQUIRED if path not in member_files]
    assert not missing, 'the tarball lacks %s' % missing


def test_tarball_members_are_plain_files_and_directories(members):
    odd = sorted(name for name, member in members.items() if not (member.isfile() or member.isdir()))
    assert not odd, 'links or special files in the tarball: %s' % odd
    unsafe = sorted(name for name in members if name.startswith('/') or '..' in name.split('/'))
    assert not unsafe, 'members outside the collection: %s' % unsafe


def test_manifest_matches_galaxy_yml(tarball, galaxy):
    with tarfile.open(str(tarball)) as archive:
        manifest = json.load(archive.extractfile('MANIFEST.json'))['collection_info']
    for key in ('namespace', 'name', 'version', 'license', 'repository', 'documentation', 'issues'):
        assert manifest[key] == galaxy[key], key


def test_galaxy_importer_reports_no_warning_or_error(tarball, tmp_path):
    config = tmp_path / 'galaxy-importer.cfg'
    config.write_text(IMPORTER_CONFIG)
    env = tool_environment()
    env['GALAXY_IMPORTER_CONFIG'] = str(config)
    env['HOME'] = os.environ.get('HOME', str(tmp_path))
    for name in list(env):
        if name.startswith('GALAXY_IMPORTER_') and name != 'GALAXY_IMPORTER_CONFIG':
            del env[name]
    output = run([sys.executable, '-m', 'galaxy_importer.main', str(tarball)], cwd=str(tmp_path), env=env)
    problems = [line for line in output.splitlines() if IMPORTER_PROBLEM.match(line)]
    assert not problems, 'galaxy-importer reported:\n%s\n\nfull output:\n%s' % ('\n'.join(problems), output)
    assert 'Importer processing completed successfully' in output, output
    assert 'Linting collection via ansible-lint' in output, 'the importer did not run ansible-lint:\n%s' % output
    with open(str(tmp_path / 'importer_result.json')) as handle:
        result = json.load(handle)
    names = sorted('%s/%s' % (item['content_type'], item['name']) for item in result['contents'])
    # The module_utils files are read from the checkout, so that a new one needs no edit here; the plugins are named.
    module_utils = ['module_utils/%s' % name[:-3] for name in os.listdir(os.path.join(COLLECTION_ROOT, 'plugins', 'module_utils'))
                    if name.endswith('.py') and name != '__init__.py']
    assert module_utils, 'no module_utils found in the checkout'
    assert names == sorted(['callback/credit_recap', 'doc_fragments/_attributes', 'doc_fragments/_connection', 'lookup/stability_balance',
                            'module/stability_account_info', 'module/stability_balance_info', 'playbook/preflight.yml'] + module_utils), names
    assert result['requires_ansible'] == '>=2.19.0'


def test_project_links_name_one_repository(galaxy):
    """galaxy.yml, the docs site's links and SECURITY.md send users to the same GitHub repository."""
    repository = galaxy['repository']
    assert re.match(r'^https://github\.com/[\w.-]+/[\w.-]+$', repository), repository
    assert galaxy['homepage'] == repository
    assert galaxy['issues'] == repository + '/issues'
    assert galaxy['documentation'] == repository + '/tree/main/docs/docsite/rst'
    with open(os.path.join(COLLECTION_ROOT, 'docs', 'docsite', 'links.yml')) as handle:
        links = yaml.safe_load(handle)
    assert 'https://github.com/' + links['edit_on_github']['repository'] == repository
    advisory = repository + '/security/advisories/new'
    urls = [link['url'] for link in links['extra_links']]
    assert advisory in urls, 'links.yml does not link the private vulnerability report'
    off_site = [url for url in urls if url.startswith('https://github.com/') and not url.startswith(repository + '/')]
    assert not off_site, off_site
    with open(os.path.join(COLLECTION_ROOT, 'SECURITY.md')) as handle:
        security = handle.read()
    assert '<%s>' % advisory in security
    assert not re.search(r'[\w.+-]+@[\w-]+\.[\w.]+', security), 'SECURITY.md names an e-mail address'
