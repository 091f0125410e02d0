# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The decision environment of docs/examples/eda: what ``ansible-builder create`` makes of it.

No container engine is needed: the build context is written and read, as for the execution
environment (tests/ee/test_execution_environment.py).  Run by ``tests/run-tests.sh eda``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import subprocess
import sys

import pytest
import yaml

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE_DIR = os.path.join(COLLECTION_ROOT, 'docs', 'examples', 'eda')
DEFINITION = 'decision-environment.yml'


def tool(name):
    candidate = os.path.join(os.path.dirname(sys.executable), name)
    return candidate if os.path.exists(candidate) else (shutil.which(name) or name)


def run(argv):
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert result.returncode == 0, '%s exited %d:\n%s' % (' '.join(argv), result.returncode, result.stdout)
    return result.stdout


def load_yaml(path):
    with open(str(path)) as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope='module')
def tarball_name():
    galaxy = load_yaml(os.path.join(COLLECTION_ROOT, 'galaxy.yml'))
    return '%s-%s-%s.tar.gz' % (galaxy['namespace'], galaxy['name'], galaxy['version'])


@pytest.fixture(scope='module')
def context(tmp_path_factory, tarball_name):
    work = tmp_path_factory.mktemp('de')
    example = work / 'example'
    shutil.copytree(EXAMPLE_DIR, str(example))
    run([tool('ansible-galaxy'), 'collection', 'build', '--output-path', str(example), COLLECTION_ROOT])
    output = run([tool('ansible-builder'), 'create', '--file', str(example / DEFINITION), '--context', str(work / 'context'),
                  '--output-filename', 'Containerfile', '-v', '3'])
    assert 'Complete! The build context can be found at' in output, output
    return work / 'context'


def test_definition_takes_this_collection_rulebook_and_java(tarball_name):
    definition = load_yaml(os.path.join(EXAMPLE_DIR, DEFINITION))
    deps = definition['dependencies']
    assert deps['galaxy'] == {'collections': [{'name': 'collections/' + tarball_name, 'type': 'file'}]}, (
        'the decision environment must name the tarball of the version in galaxy.yml')
    assert definition['additional_build_files'] == [{'src': tarball_name, 'dest': 'collections'}]
    assert deps['python'] == ['ansible-rulebook==1.3.2']
    with open(os.path.join(COLLECTION_ROOT, 'requirements-dev.txt')) as handle:
        assert 'ansible-rulebook==1.3.2\n' in handle.read(), 'the DE and the tests must use the same ansible-rulebook'
    assert any(package.startswith('java-17-openjdk') for package in deps['system'])


def test_build_context_installs_rulebook_java_and_the_collection(context, tarball_name):
    containerfile = (context / 'Containerfile').read_text()
    build = context / '_build'
    assert load_yaml(build / 'requirements.yml') == {'collections': [{'name': 'collections/' + tarball_name, 'type': 'file'}]}
    assert (build / 'collections' / tarball_name).is_file()
    assert (build / 'requirements.txt').read_text().split() == ['ansible-rulebook==1.3.2']
    assert 'java-17-openjdk-headless [platform:rpm]' in (build / 'bindep.txt').read_text()
    for line in ('COPY _build/requirements.txt requirements.txt', 'COPY _build/bindep.txt bindep.txt',
                 'ENV JAVA_HOME=/usr/lib/jvm/jre-17-openjdk', 'RUN /output/scripts/install-from-bindep && rm -rf /output/wheels'):
        assert line in containerfile, line
    assert containerfile.index('ENV JAVA_HOME') > containerfile.index('FROM base AS final')
