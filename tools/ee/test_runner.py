# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The pre-flight playbook through ``ansible_runner.run()``, the way AWX runs a job template.

As in AWX: a project with a one-line playbook importing ``stabilityai.platform.preflight``, the
Demo Inventory's ``localhost``, extra variables, and the key and URL in ``envvars``, rendered from
the credential type documented in ``docs/docsite/rst/awx.rst`` by AWX's rules.  The API is the
collection's simulator, started as a daemon on a free port.  The tests read the runner's events
and artifacts, and look for the key in all of them.

Run by ``tests/run-tests.sh runner`` (pytest from the collection root; ANSIBLE_COLLECTIONS_PATH
names the tree that holds the collection under test).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import sys
import textwrap

import ansible_runner
import pytest
import yaml

from jinja2.sandbox import ImmutableSandboxedEnvironment

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(COLLECTION_ROOT, 'tests', 'simulator'))
import launcher  # noqa: E402 pylint: disable=wrong-import-position

FIXTURE = os.path.join(COLLECTION_ROOT, 'tests', 'simulator', 'fixtures', 'default.json')
AWX_DOC = os.path.join(COLLECTION_ROOT, 'docs', 'docsite', 'rst', 'awx.rst')

ALICE_KEY = 'sk-sim-alice-64Es19knE59ROToV'
DEFAULT_API_URL = 'https://api.stability.ai'
NO_LOG_MASK = 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'

BALANCE_TASK = 'Read the balances'
STOP_TASK = 'Stop the pipeline when the credits do not cover the job'
PROJECT_PLAYBOOK = '- name: Stability AI pre-flight credit check\n  ansible.builtin.import_playbook: stabilityai.platform.preflight\n'
# AWX's Demo Inventory: localhost, run locally with the Python that runs Ansible (the EE's).
DEMO_INVENTORY = {'all': {'hosts': {'localhost': {
    'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}'}}}}


# --- the credential type of docs/docsite/rst/awx.rst ------------------------------------------

class UnsafeLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """Reads Ansible's ``!unsafe`` tag as a plain string."""


UnsafeLoader.add_constructor('!unsafe', lambda loader, node: loader.construct_scalar(node))


def doc_code_blocks(path=AWX_DOC):
    """The YAML code blocks of an RST file, dedented."""
    with open(path) as handle:
        lines = handle.read().splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        if re.match(r'^\.\. code-block:: yaml', lines[index]):
            index += 1
            body = []
            while index < len(lines) and (not lines[index].strip() or lines[index].startswith(' ')):
                body.append(lines[index])
                index += 1
            blocks.append(textwrap.dedent('\n'.join(body)).strip('\n') + '\n')
        else:
            index += 1
    return blocks


def documented_credential_type():
    """The UI blocks (Input / Injector configuration) of the doc, checked against its awx.awx task."""
    blocks = doc_code_blocks()
    inputs = [yaml.safe_load(block) for block in blocks if block.startswith('# Input configuration')]
    injectors = [yaml.safe_load(block) for block in blocks if block.startswith('# Injector configuration')]
    assert len(inputs) == 1 and len(injectors) == 1, 'awx.rst must show one input and one injector configuration'
    tasks = [task for block in blocks if 'awx.awx.credential_type:' in block
             for task in yaml.load(block, Loader=UnsafeLoader) if 'awx.awx.credential_type' in task]  # nosec: SafeLoader subclass
    assert len(tasks) == 1, 'awx.rst must show the credential type as one awx.awx.credential_type task'
    assert tasks[0]['awx.awx.credential_type']['inputs'] == inputs[0]
    assert tasks[0]['awx.awx.credential_type']['injectors'] == injectors[0]
    return inputs[0], injectors[0]


def render_env_injectors(injectors, credential_inputs):
    """AWX's rules: a sandboxed Jinja environment; empty or unset inputs are not in the namespace."""
    namespace = dict((name, value) for name, value in credential_inputs.items() if value not in (None, ''))
    sandbox = ImmutableSandboxedEnvironment()
    return dict((name, sandbox.from_string(template).render(**namespace)) for name, template in injectors['env'].items())


# --- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def simulator():
    """The simulator on a free loopback port (tests/simulator/launcher.py); stopped afterwards."""
    with launcher.running_simulator() as running:
        yield running.url


@pytest.fixture(scope='module')
def collections_path():
    value = os.environ.get('ANSIBLE_COLLECTIONS_PATH')
    if not value:
        tree = os.path.dirname(os.path.dirname(os.path.dirname(COLLECTION_ROOT)))
        if os.path.basename(os.path.dirname(os.path.dirname(COLLECTION_ROOT))) != 'ansible_collections':
            pytest.skip('the collection is not in an ansible_collections tree and ANSIBLE_COLLECTIONS_PATH is not set')
        value = tree
    return value


@pytest.fixture
def launch(tmp_path, monkeypatch, simulator, collections_path):
    """Run the job: ``launch(extravars)`` returns (runner, events, private data dir)."""
    # What the job gets must come from envvars alone, as in AWX.
    for name in list(os.environ):
        if name.startswith(('STABILITY_', 'ANSIBLE_')):
            monkeypatch.delenv(name)
    # ansible-playbook of the Python that runs the tests (the EE's, in AWX).
    monkeypatch.setenv('PATH', os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', os.defpath))
    _inputs, injectors = documented_credential_type()
    envvars = render_env_injectors(injectors, {'api_key': ALICE_KEY, 'api_url': simulator})
    envvars['ANSIBLE_COLLECTIONS_PATH'] = collections_path

    def run(extravars):
        private_data_dir = tmp_path / 'job'
        (private_data_dir / 'project').mkdir(parents=True)
        (private_data_dir / 'project' / 'preflight.yml').write_text(PROJECT_PLAYBOOK)
        runner = ansible_runner.run(
            private_data_dir=str(private_data_dir), ident='1', playbook='preflight.yml',
            inventory=DEMO_INVENTORY, extravars=extravars, envvars=envvars,
            suppress_env_files=True, quiet=True, timeout=300)
        return runner, list(runner.events), private_data_dir
    return run


def events_of(events, kind, task=None):
    return [event for event in events if event['event'] == kind and (task is None or event['event_data'].get('task') == task)]


def stats(events):
    found = events_of(events, 'playbook_on_stats')
    assert len(found) == 1
    return found[0]['event_data']


def alice_default_credits():
    with open(FIXTURE) as handle:
        fixture = json.load(handle)
    account = fixture['accounts'][fixture['keys'][ALICE_KEY]]
    default = [org['id'] for org in account['organizations'] if org['is_default']][0]
    return fixture['organizations'][default]['credits']


def assert_key_nowhere(runner, events, private_data_dir):
    """The key is in no event, not in stdout, and in no file of the artifacts but one: ansible-runner
    records the environment of ansible-playbook in artifacts/<ident>/command, and that is where it
    was given. Nothing else (arguments, other variables, events, output) may carry it."""
    assert ALICE_KEY not in json.dumps(events)
    assert ALICE_KEY not in runner.stdout.read()
    assert not (private_data_dir / 'env' / 'envvars').exists(), 'suppress_env_files=True must keep the envvars off disk'
    artifacts = private_data_dir / 'artifacts'
    checked = 0
    for directory, _subdirs, files in os.walk(str(artifacts)):
        for name in files:
            path = os.path.join(directory, name)
            with open(path, 'rb') as handle:
                content = handle.read()
            checked += 1
            if os.path.relpath(path, str(artifacts)) == os.path.join('1', 'command'):
                command = json.loads(content.decode('utf-8'))
                assert command['env'].pop('STABILITY_API_KEY') == ALICE_KEY
                content = json.dumps(command).encode('utf-8')
            assert ALICE_KEY.encode('utf-8') not in content, 'the key is in %s' % path
    assert checked >= 5, 'expected the artifacts of a run (command, status, rc, stdout, job events)'


# --- tests ---------------------------------------------------------------------------------------

def test_documented_injectors_render_as_awx_would():
    inputs, injectors = documented_credential_type()
    fields = dict((field['id'], field) for field in inputs['fields'])
    assert fields['api_key']['secret'] is True
    assert not fields['api_url'].get('secret')
    assert inputs['required'] == ['api_key']
    assert sorted(injectors) == ['env']
    assert render_env_injectors(injectors, {'api_key': ALICE_KEY, 'api_url': 'http://127.0.0.1:8080'}) == {
        'STABILITY_API_KEY': ALICE_KEY, 'STABILITY_API_URL': 'http://127.0.0.1:8080'}
    for unset in ({'api_key': ALICE_KEY}, {'api_key': ALICE_KEY, 'api_url': ''}):
        assert render_env_injectors(injectors, unset) == {'STABILITY_API_KEY': ALICE_KEY, 'STABILITY_API_URL': DEFAULT_API_URL}


def test_preflight_passes_with_enough_credits(launch, simulator):
    runner, events, private_data_dir = launch({'stability_min_credits': 100})
    assert (runner.status, runner.rc) == ('successful', 0)

    balance = events_of(events, 'runner_on_ok', BALANCE_TASK)
    assert len(balance) == 1
    res = balance[0]['event_data']['res']
    assert res['credits'] == alice_default_credits()
    assert 'msg' not in res
    # Both came from the injected environment: the URL as given, the key masked.
    assert res['invocation']['module_args']['api_url'] == simulator
    assert res['invocation']['module_args']['api_key'] == NO_LOG_MASK

    assert events_of(events, 'runner_on_failed') == []
    passed = events_of(events, 'runner_on_ok', 'Report success')
    assert len(passed) == 1
    assert passed[0]['event_data']['res']['msg'] == (
        'Stability AI pre-flight passed: every organization checked has at least 100 credits')
    summary = stats(events)
    assert summary['failures'] == {}
    assert summary['ok']['localhost'] >= 3
    assert_key_nowhere(runner, events, private_data_dir)


def test_preflight_fails_with_a_one_line_reason(launch):
    runner, events, private_data_dir = launch({'stability_min_credits': 10, 'stability_organizations': 'all'})
    assert (runner.status, runner.rc) == ('failed', 2)

    balance = events_of(events, 'runner_on_ok', BALANCE_TASK)
    assert len(balance) == 1
    res = balance[0]['event_data']['res']
    assert [(row['organization_id'], row['credits']) for row in res['balances']] == [
        ('org-alice-studio', alice_default_credits()), ('org-alice-lab', 12.5), ('org-render-farm', 0.0)]

    failed = events_of(events, 'runner_on_failed')
    assert [event['event_data']['task'] for event in failed] == [STOP_TASK]
    message = failed[0]['event_data']['res']['msg']
    assert message == 'Stability AI pre-flight failed: ' + res['msg']
    assert '\n' not in message and len(message) < 300
    assert 'org-render-farm' in message and 'org-alice-lab' not in message
    assert re.search(r'\bhas 0\.00$', message), message  # credits to two decimals

    summary = stats(events)
    assert summary['failures'] == {'localhost': 1}
    assert_key_nowhere(runner, events, private_data_dir)
