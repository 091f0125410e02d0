# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The execution environment: what ansible-builder makes of the collection and of the example EE.

No container engine is needed.  ``ansible-builder create`` writes the build context of
``docs/examples/execution-environment/execution-environment.yml``; the tests then read its
Containerfile, and replay its galaxy and builder stages outside a container: install the
collection from ``_build/requirements.yml`` exactly as the galaxy stage does, and run the
context's own ``introspect.py`` on the result, which is what decides the image's Python packages.

The decision environment of ``docs/examples/eda`` (ansible-rulebook, Java 17 and the collection,
for the ``credit_balance`` event source in the EDA controller) gets the same ``ansible-builder
create`` check.

Run by ``tests/run-tests.sh ee`` (pytest from the collection root).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE_DIR = os.path.join(COLLECTION_ROOT, 'docs', 'examples', 'execution-environment')
EXAMPLE_EE = os.path.join(EXAMPLE_DIR, 'execution-environment.yml')
DE_DIR = os.path.join(COLLECTION_ROOT, 'docs', 'examples', 'eda')
EXAMPLE_DE = os.path.join(DE_DIR, 'decision-environment.yml')
FROM_COLLECTION = '  # from collection stabilityai.platform'


def tool(name):
    """A console script of the Python that runs the tests (the test venv), else from PATH."""
    candidate = os.path.join(os.path.dirname(sys.executable), name)
    return candidate if os.path.exists(candidate) else (shutil.which(name) or name)


def run(argv, cwd=None, env=None):
    result = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, check=False)
    assert result.returncode == 0, '%s exited %d:\n%s' % (' '.join(argv), result.returncode, result.stdout)
    return result.stdout


def load_yaml(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def requirement_lines(path):
    with open(path) as handle:
        return [line.strip() for line in handle if line.strip() and not line.strip().startswith('#')]


@pytest.fixture(scope='module')
def galaxy():
    return load_yaml(os.path.join(COLLECTION_ROOT, 'galaxy.yml'))


@pytest.fixture(scope='module')
def tarball_name(galaxy):
    return '%s-%s-%s.tar.gz' % (galaxy['namespace'], galaxy['name'], galaxy['version'])


def builder_create(work, example_dir, definition, tarball_name):
    """``ansible-builder create`` on a copy of an example directory with a freshly built tarball."""
    example = work / 'example'
    shutil.copytree(example_dir, str(example))
    run([tool('ansible-galaxy'), 'collection', 'build', '--output-path', str(example), COLLECTION_ROOT])
    assert (example / tarball_name).is_file()
    output = run([tool('ansible-builder'), 'create', '--file', str(example / definition),
                  '--context', str(work / 'context'), '--output-filename', 'Containerfile', '-v', '3'])
    assert 'Complete! The build context can be found at' in output, output
    return work / 'context'


@pytest.fixture(scope='module')
def context(tmp_path_factory, tarball_name):
    return builder_create(tmp_path_factory.mktemp('ee'), EXAMPLE_DIR, 'execution-environment.yml', tarball_name)


@pytest.fixture(scope='module')
def de_context(tmp_path_factory, tarball_name):
    return builder_create(tmp_path_factory.mktemp('de'), DE_DIR, 'decision-environment.yml', tarball_name)


@pytest.fixture(scope='module')
def containerfile(context):
    return (context / 'Containerfile').read_text().splitlines()


@pytest.fixture(scope='module')
def galaxy_stage(context, tmp_path_factory):
    """The galaxy stage outside a container: its install command, run in ``_build``."""
    collections = tmp_path_factory.mktemp('usr-share-ansible') / 'collections'
    # As in the image: no other collection path, or ansible-galaxy finds the collection under
    # test there and installs nothing.
    env = dict((name, value) for name, value in os.environ.items() if not name.startswith('ANSIBLE_'))
    env['ANSIBLE_GALAXY_DISABLE_GPG_VERIFY'] = '1'
    run([tool('ansible-galaxy'), 'collection', 'install', '-r', 'requirements.yml',
         '--collections-path', str(collections)], cwd=str(context / '_build'), env=env)
    return collections


def test_collection_declares_only_the_optional_prometheus_client():
    assert load_yaml(os.path.join(COLLECTION_ROOT, 'meta', 'execution-environment.yml')) == {
        'version': 3,
        'dependencies': {'python': 'meta/ee-requirements.txt'},
    }
    # The plugins need only the standard library; an image gets the optional prometheus-client of the metrics options.
    assert requirement_lines(os.path.join(COLLECTION_ROOT, 'requirements.txt')) == []
    assert requirement_lines(os.path.join(COLLECTION_ROOT, 'meta', 'ee-requirements.txt')) == ['prometheus-client>=0.20']


def test_example_ee_takes_this_collection_and_a_supported_core(tarball_name):
    example = load_yaml(EXAMPLE_EE)
    assert example['version'] == 3
    deps = example['dependencies']
    assert deps['galaxy'] == {'collections': [{'name': 'collections/' + tarball_name, 'type': 'file'}]}, (
        'the example EE must name the tarball of the version in galaxy.yml')
    assert example['additional_build_files'] == [{'src': tarball_name, 'dest': 'collections'}]
    assert 'python' not in deps, 'prometheus-client must come from the collection metadata, not from the example'

    core_requirement = Requirement(deps['ansible_core']['package_pip'])
    assert core_requirement.name == 'ansible-core'
    core = core_requirement.specifier
    runtime = load_yaml(os.path.join(COLLECTION_ROOT, 'meta', 'runtime.yml'))
    supported = SpecifierSet(runtime['requires_ansible'])
    for version in ('2.16.0', '2.17.0', '2.18.0', '2.18.99', '2.19.0', '2.20.0', '2.21.0', '2.22.0'):
        if core.contains(version):
            assert supported.contains(version), 'the example EE allows ansible-core %s, which meta/runtime.yml does not' % version
    assert core.contains(supported_floor(runtime['requires_ansible']))
    assert Requirement(deps['ansible_runner']['package_pip']).name == 'ansible-runner'


def supported_floor(requires_ansible):
    floors = [spec.version for spec in SpecifierSet(requires_ansible) if spec.operator == '>=']
    assert len(floors) == 1, requires_ansible
    return floors[0]


def test_build_context_carries_the_collection_tarball(context, galaxy, tarball_name):
    assert load_yaml(str(context / '_build' / 'requirements.yml')) == {
        'collections': [{'name': 'collections/' + tarball_name, 'type': 'file'}],
    }
    with tarfile.open(str(context / '_build' / 'collections' / tarball_name)) as archive:
        names = set(archive.getnames())
        manifest = json.load(archive.extractfile('MANIFEST.json'))['collection_info']
        meta_ee = yaml.safe_load(archive.extractfile('meta/execution-environment.yml'))
        requirements = archive.extractfile('meta/ee-requirements.txt').read().decode('utf-8')
    assert (manifest['namespace'], manifest['name'], manifest['version']) == (galaxy['namespace'], galaxy['name'], galaxy['version'])
    assert {'meta/execution-environment.yml', 'meta/ee-requirements.txt', 'playbooks/preflight.yml', 'meta/runtime.yml'} <= names
    assert meta_ee['dependencies'] == {'python': 'meta/ee-requirements.txt'}
    assert 'prometheus-client' in requirements and 'requests' not in requirements
    assert not [name for name in names if name.endswith('.tar.gz')], 'a tarball inside the tarball'


def test_containerfile_installs_core_runner_collection_and_its_requirements(containerfile):
    example = load_yaml(EXAMPLE_EE)['dependencies']
    refs = '%s %s' % (example['ansible_core']['package_pip'], example['ansible_runner']['package_pip'])
    expected_in_order = [
        'ARG PYCMD="/usr/bin/python3.12"',
        'ARG ANSIBLE_INSTALL_REFS="%s"' % refs,
        'FROM $EE_BASE_IMAGE AS base',
        'RUN $PYCMD -m pip install --no-cache-dir $ANSIBLE_INSTALL_REFS',
        'FROM base AS galaxy',
        'COPY _build /build',
        'WORKDIR /build',
        'RUN ANSIBLE_GALAXY_DISABLE_GPG_VERIFY=1 ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS '
        '-r requirements.yml --collections-path "/usr/share/ansible/collections"',
        'FROM base AS builder',
        'COPY --from=galaxy /usr/share/ansible /usr/share/ansible',
        'RUN $PYCMD /output/scripts/introspect.py introspect --write-bindep=/tmp/src/bindep.txt --write-pip=/tmp/src/requirements.txt',
        'RUN /output/scripts/assemble',
        'FROM base AS final',
        'RUN /output/scripts/check_ansible $PYCMD',
        'COPY --from=galaxy /usr/share/ansible /usr/share/ansible',
        'COPY --from=builder /output/ /output/',
        'RUN /output/scripts/install-from-bindep && rm -rf /output/wheels',
    ]
    position = -1
    for line in expected_in_order:
        assert line in containerfile[position + 1:], 'missing (or out of order) in the Containerfile: %s' % line
        position = containerfile.index(line, position + 1)


def test_build_scripts_install_what_introspection_wrote(context):
    """The hand-over between the stages: introspect writes /tmp/src/requirements.txt, assemble
    installs it and copies it to /output, install-from-bindep installs that into the final image."""
    assemble = (context / '_build' / 'scripts' / 'assemble').read_text()
    final = (context / '_build' / 'scripts' / 'install-from-bindep').read_text()
    assert '$PIPCMD install $CONSTRAINTS $PIP_OPTS --cache-dir=/output/wheels -r /tmp/src/requirements.txt' in assemble
    assert 'cp /tmp/src/requirements.txt /output/requirements.txt' in assemble
    assert '$PIPCMD install $CONSTRAINTS $PIP_OPTS --cache-dir=/output/wheels -r /output/requirements.txt' in final


def test_galaxy_stage_installs_the_collection(galaxy_stage, galaxy):
    installed = galaxy_stage / 'ansible_collections' / galaxy['namespace'] / galaxy['name']
    manifest = json.loads((installed / 'MANIFEST.json').read_text())['collection_info']
    assert manifest['version'] == galaxy['version']
    assert (installed / 'playbooks' / 'preflight.yml').is_file()
    assert (installed / 'plugins' / 'modules' / 'stability_balance_info.py').is_file()


def test_builder_stage_introspection_asks_for_prometheus_client(context, galaxy_stage, tmp_path):
    """The context's own introspect.py, with the Containerfile's arguments, on what the galaxy stage installed."""
    src = tmp_path / 'src'
    run([sys.executable, str(context / '_build' / 'scripts' / 'introspect.py'), 'introspect',
         '--write-bindep=%s' % (src / 'bindep.txt'), '--write-pip=%s' % (src / 'requirements.txt'), str(galaxy_stage)])
    expected = [line + FROM_COLLECTION for line in requirement_lines(os.path.join(COLLECTION_ROOT, 'meta', 'ee-requirements.txt'))]
    assert (src / 'requirements.txt').read_text().splitlines() == expected
    assert not (src / 'bindep.txt').exists() or not (src / 'bindep.txt').read_text().strip()


def test_ansible_builder_introspect_sanitize_on_the_collections_path():
    """``ansible-builder introspect --sanitize`` on the collection tree under test (ANSIBLE_COLLECTIONS_PATH)."""
    collections_path = os.environ.get('ANSIBLE_COLLECTIONS_PATH')
    if not collections_path:
        pytest.skip('ANSIBLE_COLLECTIONS_PATH is not set (tests/run-tests.sh sets it)')
    output = run([tool('ansible-builder'), 'introspect', '--sanitize', collections_path.split(os.pathsep)[0]])
    report = yaml.safe_load(output)
    expected = [line + FROM_COLLECTION for line in requirement_lines(os.path.join(COLLECTION_ROOT, 'meta', 'ee-requirements.txt'))]
    assert report == {'python': expected, 'system': []}


# --- the decision environment of docs/examples/eda -----------------------------------------------

def test_decision_environment_takes_this_collection_rulebook_and_java(tarball_name):
    definition = load_yaml(EXAMPLE_DE)
    deps = definition['dependencies']
    assert deps['galaxy'] == {'collections': [{'name': 'collections/' + tarball_name, 'type': 'file'}]}, (
        'the decision environment must name the tarball of the version in galaxy.yml')
    assert definition['additional_build_files'] == [{'src': tarball_name, 'dest': 'collections'}]
    assert deps['python'] == ['ansible-rulebook==1.3.2']
    assert 'ansible-rulebook==1.3.2' in requirement_lines(os.path.join(COLLECTION_ROOT, 'requirements-dev.txt')), (
        'the decision environment and the eda tests must use the same ansible-rulebook')
    assert deps['ansible_core'] == load_yaml(EXAMPLE_EE)['dependencies']['ansible_core']
    assert any(package.startswith('java-17-openjdk') for package in deps['system'])


def test_decision_environment_context_installs_rulebook_java_and_the_collection(de_context, tarball_name):
    containerfile = (de_context / 'Containerfile').read_text()
    build = de_context / '_build'
    assert load_yaml(str(build / 'requirements.yml')) == {'collections': [{'name': 'collections/' + tarball_name, 'type': 'file'}]}
    assert (build / 'collections' / tarball_name).is_file()
    assert (build / 'requirements.txt').read_text().split() == ['ansible-rulebook==1.3.2']
    assert 'java-17-openjdk-headless [platform:rpm]' in (build / 'bindep.txt').read_text()
    for line in ('COPY _build/requirements.txt requirements.txt', 'COPY _build/bindep.txt bindep.txt',
                 'ENV JAVA_HOME=/usr/lib/jvm/jre-17-openjdk', 'RUN /output/scripts/install-from-bindep && rm -rf /output/wheels'):
        assert line in containerfile, line
    assert containerfile.index('ENV JAVA_HOME') > containerfile.index('FROM base AS final')
