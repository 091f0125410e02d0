# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The docs say what the code does: facts the docs repeat are held to the code's constants.

Each option is described once, in the DOCUMENTATION fragment; the CONTROLLER fragment (every
controller-side plugin) and the PLUGINS fragment (those that see variables) only add where else
a value comes from.  Numbers that prose repeats (defaults, the retry bounds and back-off steps,
the body limit, the vendor's rate limit, the requests in flight) are found with patterns in every
doc a user reads and compared with the constants; each pattern must match somewhere, so no check passes vacuously.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
from unittest import mock

import pytest
import yaml

from ansible_collections.stabilityai.platform.plugins.doc_fragments._connection import ModuleDocFragment
from ansible_collections.stabilityai.platform.plugins.module_utils import _client, _ledger, _metrics, _rate_guard, _runway, _settings
from ansible_collections.stabilityai.platform.plugins.module_utils._argspec import connection_argument_spec
from ansible_collections.stabilityai.platform.plugins.module_utils._concurrency import MAX_CONCURRENT_REQUESTS
from ansible_collections.stabilityai.platform.plugins.plugin_utils import _credit_watch
from ansible_collections.stabilityai.platform.tests.simulator import stability_simulator

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
MODULE_OPTIONS = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options']
CONTROLLER_OPTIONS = yaml.safe_load(ModuleDocFragment.CONTROLLER)['options']
PLUGIN_OPTIONS = yaml.safe_load(ModuleDocFragment.PLUGINS)['options']


def test_the_fragments_and_the_argument_spec_name_the_same_options():
    assert set(MODULE_OPTIONS) == set(CONTROLLER_OPTIONS) == set(PLUGIN_OPTIONS) == set(connection_argument_spec())


@pytest.mark.parametrize('name', sorted(PLUGIN_OPTIONS))
def test_the_controller_and_plugins_fragments_add_sources_only(name):
    assert set(CONTROLLER_OPTIONS[name]) <= {'env', 'ini', 'default'}, 'describe %s once, in DOCUMENTATION' % name
    assert set(PLUGIN_OPTIONS[name]) == {'vars'}, 'a callback cannot read variables: keep them apart from CONTROLLER'
    assert 'description' in MODULE_OPTIONS[name] and 'type' in MODULE_OPTIONS[name]


@pytest.mark.parametrize('name', sorted(MODULE_OPTIONS))
def test_module_docs_match_the_argument_spec(name):
    spec = connection_argument_spec()[name]  # built in the test, so that mutation testing sees it used
    documented = MODULE_OPTIONS[name]
    assert documented['type'] == spec['type']
    assert documented.get('default') == spec.get('default')
    assert documented.get('choices') == spec.get('choices')


def test_only_the_key_is_kept_out_of_logs():
    assert [name for name, spec in connection_argument_spec().items() if spec.get('no_log')] == ['api_key']
    assert connection_argument_spec()['api_key']['no_log'] is True


def test_defaults_and_environment_variables_match_the_code():
    assert CONTROLLER_OPTIONS['api_url']['default'] == _settings.DEFAULT_API_URL
    assert CONTROLLER_OPTIONS['api_version']['default'] == _settings.DEFAULT_API_VERSION
    assert MODULE_OPTIONS['timeout']['default'] == _settings.DEFAULT_TIMEOUT
    assert MODULE_OPTIONS['retries']['default'] == _settings.DEFAULT_RETRIES
    assert MODULE_OPTIONS['api_version']['choices'] == list(_settings.API_VERSIONS)
    assert _settings.clean_rate_limit(CONTROLLER_OPTIONS['rate_limit']['default']) == _settings.DEFAULT_RATE_LIMIT
    assert 'ini' not in CONTROLLER_OPTIONS['api_key'], 'the key is never read from ansible.cfg'


def environment_lists(options):
    """``{option: [variable, ...]}`` of the options that have an ``env:`` list in ``options`` (parsed docs)."""
    return dict((name, [entry['name'] for entry in option['env']]) for name, option in options.items() if 'env' in option)


def test_the_controller_fragment_reads_the_environment_variables_of_the_code_in_ansible_s_order():
    """The one environment fallback, ``_settings.ENVIRONMENT_VARIABLES``, is what Ansible reads for lookups and the callback.

    Ansible's configuration takes the LAST variable of an ``env:`` list that is set, the code the
    first: so the fragment lists them the other way round, and STABILITY_API_KEY wins everywhere.
    """
    expected = dict((name, list(reversed(variables))) for name, variables in _settings.ENVIRONMENT_VARIABLES.items())
    assert environment_lists(CONTROLLER_OPTIONS) == expected


def test_the_module_argument_spec_falls_back_to_the_environment_variables_of_the_code():
    fallbacks = dict((name, spec['fallback'][1]) for name, spec in connection_argument_spec().items() if 'fallback' in spec)
    assert fallbacks == dict((name, list(variables)) for name, variables in _settings.ENVIRONMENT_VARIABLES.items())


def test_module_descriptions_name_the_environment_variables_and_defaults():
    text = ' '.join(' '.join(option['description']) for option in MODULE_OPTIONS.values())
    for name in sum(_settings.ENVIRONMENT_VARIABLES.values(), ()):
        assert 'E(%s)' % name in text
    assert 'C(%s)' % _settings.DEFAULT_API_URL in text
    assert 'otherwise C(%s)' % _settings.DEFAULT_API_VERSION in text


def user_docs():
    """Every text a user reads: plugin sources (their docs), the doc fragments, the guides, the READMEs, the simulator's sources (its help)."""
    paths = [os.path.join(COLLECTION_ROOT, 'README.md'), os.path.join(COLLECTION_ROOT, 'tests', 'README.md')]
    for folder in ('plugins/modules', 'plugins/lookup', 'plugins/callback', 'plugins/doc_fragments', 'docs/docsite/rst',
                   'extensions/eda/plugins/event_source', 'tests/simulator'):
        directory = os.path.join(COLLECTION_ROOT, folder)
        paths.extend(os.path.join(directory, name) for name in sorted(os.listdir(directory)) if name.endswith(('.py', '.rst')))
    texts = {}
    for path in paths:
        with open(path) as handle:
            texts[os.path.relpath(path, COLLECTION_ROOT)] = re.sub(r'\s+', ' ', handle.read().replace('``', ''))
    return texts


NUMBER_WORDS = {'one': 1, 'two': 2, 'three': 3, 'four': 4, 'five': 5, 'seven': 7, 'ten': 10, 'eighth': 8}


def backoff_steps():
    """The longest wait ``_client.retry_delay`` draws before each retry, up to the first that no longer grows (the cap).

    Read from the function with its jitter pinned to the top, so that the docs follow the formula as well as its constants.
    """
    steps = []
    with mock.patch.object(_client.random, 'uniform', lambda low, high: high):
        for attempt in range(20):
            delay = _client.retry_delay(attempt)
            if steps and delay <= steps[-1]:
                return tuple(steps)
            steps.append(delay)
    raise AssertionError('retry_delay still grows after 20 attempts, but the docs promise a cap')


# (what, pattern whose groups are numbers or lists of them ("0.5, 1, 2"), the numbers the code has)
FACTS = [
    ('vendor rate limit', r'allows (\d+) requests per (\d+) seconds',
     (_settings.VENDOR_REQUESTS_PER_WINDOW, _settings.VENDOR_WINDOW_SECONDS)),
    ('vendor lock-out', r'refuses (?:the caller|it|the account) for (\d+) seconds', (_settings.VENDOR_LOCKOUT_SECONDS,)),
    ('vendor lock-out', r'is refused for (\d+) seconds', (_settings.VENDOR_LOCKOUT_SECONDS,)),
    ('Retry-After cap', r'Retry-After[^.]{0,40}? up to (\d+) s', (int(_settings.RETRY_AFTER_MAX),)),
    ('Retry-After cap', r'replaces the wait, capped at (\d+) seconds', (int(_settings.RETRY_AFTER_MAX),)),
    ('Retry-After cap', r'plus O\(retries\) times (\d+) seconds', (int(_settings.RETRY_AFTER_MAX),)),
    ('retry back-off', r'exponential(?:ly| back-off) \((\d[\d., ]*?),? (?:s|seconds)\b', backoff_steps()),
    ('retry back-off cap', r'and then (\d+) each time', (backoff_steps()[-1],)),
    ('body limit', r'body over (\d+(?:\.\d+)?) MiB', (_client.MAX_BODY_BYTES / 1048576,)),
    ('body limit in bytes', r'body over (\d+) bytes', (_client.MAX_BODY_BYTES,)),
    ('retries bound', r'whole number from 0 to (\d+)', (_settings.MAX_RETRIES,)),
    ('timeout bound', r'greater than 0 and at most (\d+)', (int(_settings.MAX_TIMEOUT),)),
    ('timeout bound in words', r'at most (\d+)(?: \(|: )ten minutes', (int(_settings.MAX_TIMEOUT),)),
    ('event source interval bound', r'At most (\d+) seconds \(one day\)', (int(_credit_watch.MAX_INTERVAL),)),
    ('requests in flight', r'at most (\w+) requests (?:in flight|at a time)', (MAX_CONCURRENT_REQUESTS,)),
    ('request budget', r'never sends more than (\d+) requests in any (\d+) seconds', _settings.DEFAULT_RATE_LIMIT),
    ('request budget bounds', r'at most N requests \(1 to (\d+)\) in any S seconds \(at most (\d+)\)',
     (_settings.MAX_RATE_LIMIT_REQUESTS, _settings.MAX_RATE_LIMIT_SECONDS)),
    ('request budget default', r'otherwise C\((\d+)/(\d+)\)', _settings.DEFAULT_RATE_LIMIT),
    ('ledger bound', r'Past (\d+) MiB the oldest lines are dropped down to (\d+) MiB',
     (_ledger.LEDGER_MAX_BYTES // 1048576, _ledger.LEDGER_KEEP_BYTES // 1048576)),
    ('runway window', r'the forecast looks at the last (\w+) days', (_runway.RUNWAY_WINDOW_DAYS,)),
    ('worst case of one call', r'(\d+) \+ \(retries \+ 1\) [x×*] timeout \+ retries [x×*] (\d+)',
     (int(_settings.TURN_WAIT_MAX), int(_settings.RETRY_AFTER_MAX))),
    ('wait for a turn', r'(?:up to|at most) (\d+) (?:s|seconds) (?:waiting )?for its turn', (int(_settings.TURN_WAIT_MAX),)),
    ('wait for a turn', r'more than (\d+) s away, the longest a call waits for its turn', (int(_settings.TURN_WAIT_MAX),)),
    ('longest lock-out recorded', r'a lock-out more than (\d+) s ahead \(the longest it records\)', (int(_rate_guard.MAX_LOCKOUT_SECONDS),)),
    ('event source interval floor', r'(?:below|at least) (\d+) seconds(?: is refused|; a loopback)', (int(_credit_watch.MIN_INTERVAL),)),
    ('event source interval default', r'[Ss]econds between readings, default (\d+)', (int(_credit_watch.DEFAULT_INTERVAL),)),
    ('event source recovery margin', r'back at least (\d+) % above', (int(_credit_watch.RECOVERY_MARGIN * 100),)),
    ('push time-out', r'at most (\d+) seconds for each network operation', (_metrics.PUSH_TIMEOUT,)),
    ('event source loopback floor', r'may go down to (\d+(?:\.\d+)?) seconds', (_credit_watch.MIN_LOOPBACK_INTERVAL,)),
    ('event source first wait after a failure', r'an (\w+) of interval', (2 ** _credit_watch.BACKOFF_STEPS,)),
    ('simulator lifetime', r'--lifetime S\)? \(default (\d+)', (int(stability_simulator.DEFAULT_LIFETIME),)),
    ('simulator lifetime', r'default lifetime of (\d+) s', (int(stability_simulator.DEFAULT_LIFETIME),)),
    ('simulator rate limit', r'(\d+) requests per (\d+) (?:s|seconds) per account, then (?:429 for |a )?(\d+) s',
     stability_simulator.DEFAULT_RATE_LIMIT + (stability_simulator.DEFAULT_LOCKOUT,)),
    ('simulator huge body', r'huge\)? \(over (\d+) MiB\)', (stability_simulator.HUGE_BODY_PADDING // 1048576,)),
]


@pytest.mark.parametrize('what, pattern, expected', FACTS, ids=['%s: %s' % (fact[0], fact[1]) for fact in FACTS])
def test_numbers_the_docs_repeat_are_the_code_s(what, pattern, expected):
    found = []
    for path, text in user_docs().items():
        for match in re.finditer(pattern, text):
            numbers = tuple(NUMBER_WORDS.get(item) or float(item) for group in match.groups() for item in group.split(', '))
            found.append((path, match.group(0), numbers))
    assert found, 'no doc states the %s any more: drop the pattern or restore the text' % what
    wrong = [(path, phrase) for path, phrase, numbers in found if numbers != tuple(expected)]
    assert not wrong, '%s is %s in the code, but the docs say: %s' % (what, expected, wrong)
