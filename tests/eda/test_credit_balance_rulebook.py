# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The ``credit_balance`` event source in a real ``ansible-rulebook`` run against the simulator.

The rulebook is docs/examples/eda/credit_thresholds.yml as shipped, with three changes for the
test: the source reads one organization every second from the simulator without retries, and a
first rule (``match_multiple_rules``) prints every event so the test sees them in order.  The
test spends credits through the simulator (in a thread of the test), tops them up, takes the API
down and brings it back, and checks the events, the playbook the rulebook runs, and that the key is
nowhere in the output.

Run by ``tests/run-tests.sh eda`` (pytest from the collection root; ANSIBLE_COLLECTIONS_PATH
names the tree that holds the collection under test).  Needs Java 17 for ansible-rulebook.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIMULATOR = os.path.join(COLLECTION_ROOT, 'tests', 'simulator', 'stability_simulator.py')
EXAMPLES = os.path.join(COLLECTION_ROOT, 'docs', 'examples', 'eda')

ALICE_KEY = 'sk-sim-alice-0000000000000000'
ORG = 'org-alice-lab'
LABEL = 'org-alice-lab (Alice Lab)'
WAIT = 90.0  # the JVM of ansible-rulebook starts in 3-20 s on a busy machine


def tool(name):
    candidate = os.path.join(os.path.dirname(sys.executable), name)
    return candidate if os.path.exists(candidate) else (shutil.which(name) or name)


def load_simulator():
    """The simulator's Python API (it serves from a thread of this process)."""
    spec = importlib.util.spec_from_file_location('stability_simulator', SIMULATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def simulator():
    with load_simulator().StabilitySimulator(lifetime=600) as sim:
        yield sim


def balance_answers(sim, status=200):
    return [entry for entry in sim.requests() if entry['endpoint'] == 'balance' and entry['status'] == status]


def account_answers(sim, status):
    return [entry for entry in sim.requests() if entry['endpoint'] == 'account' and entry['status'] == status]


def test_example_rulebook_reacts_to_crossings_top_up_and_outage(simulator, tmp_path):
    if not os.environ.get('ANSIBLE_COLLECTIONS_PATH'):
        pytest.fail('ANSIBLE_COLLECTIONS_PATH must name the tree that holds the collection (tests/run-tests.sh sets it)')
    with open(os.path.join(EXAMPLES, 'credit_thresholds.yml')) as handle:
        rulebook = yaml.safe_load(handle)
    ruleset = rulebook[0]
    ruleset['sources'][0]['stabilityai.platform.credit_balance'].update(
        organizations=[ORG], interval=1, retries=0, warn_below=100, min_credits=10)
    ruleset['match_multiple_rules'] = True
    ruleset['rules'].insert(0, {'name': 'Record every event', 'condition': 'event.stability is defined',
                                'action': {'print_event': {'pretty': False}}})
    (tmp_path / 'rules.yml').write_text(yaml.safe_dump(rulebook))
    shutil.copy(os.path.join(EXAMPLES, 'low_credits.yml'), str(tmp_path))
    shutil.copy(os.path.join(EXAMPLES, 'inventory.yml'), str(tmp_path))

    env = dict((name, value) for name, value in os.environ.items() if not name.startswith('STABILITY_'))
    env.update(STABILITY_API_KEY=ALICE_KEY, STABILITY_API_URL=simulator.url,
               PATH=os.path.dirname(sys.executable) + os.pathsep + env.get('PATH', os.defpath))
    simulator.set_credits(ORG, 500)
    simulator.clear_requests()
    output = []
    process = subprocess.Popen([tool('ansible-rulebook'), '-r', 'rules.yml', '-i', 'inventory.yml'], cwd=str(tmp_path), env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    reader = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)
    reader.start()

    def events():
        found = []
        for line in list(output):
            if line.startswith('{') and "'stability':" in line:
                found.append(ast.literal_eval(line)['stability'])
        return found

    def wait_for(what, check):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if check():
                return
            if process.poll() is not None:
                break
            time.sleep(0.2)
        pytest.fail('waited in vain for %s; rulebook output:\n%s' % (what, ''.join(output)))

    def wait_for_events(count):
        wait_for('%d events' % count, lambda: len(events()) >= count)

    def wait_for_readings(more):
        target = len(balance_answers(simulator)) + more
        wait_for('%d more readings' % more, lambda: len(balance_answers(simulator)) >= target)

    try:
        wait_for_readings(2)  # 500 credits: above both thresholds, nothing to say
        simulator.set_credits(ORG, 50)  # spent below warn_below
        wait_for_events(1)
        simulator.set_credits(ORG, 5)  # and below min_credits: the playbook runs
        wait_for_events(2)
        simulator.set_credits(ORG, 4)  # still below: no new event
        wait_for_readings(3)
        simulator.set_credits(ORG, 1000)  # a top-up
        wait_for_events(4)
        simulator.add_faults([{'match': {'endpoint': 'account'}, 'status': 503, 'times': -1}])
        wait_for_events(5)  # the outage: one error event
        wait_for('four failed readings', lambda: len(account_answers(simulator, 503)) >= 4)
        simulator.clear_faults()
        wait_for_readings(1)  # back, still 1000 credits: nothing to say
        simulator.set_credits(ORG, 5)  # the source lived through the outage
        wait_for_events(7)
        wait_for('the second playbook run', lambda: ''.join(output).count('PLAY RECAP') >= 2)
    finally:
        # Ctrl-C, as a user stops it: ansible-rulebook exits 130 once every source has stopped.
        process.send_signal(signal.SIGINT)
        try:
            stopped_in_time = process.wait(timeout=30) is not None
        except subprocess.TimeoutExpired:
            stopped_in_time = False
            process.kill()
            process.wait()
        reader.join(10)
    text = re.sub(r'\x1b\[[0-9;]*m', '', ''.join(output))  # the playbooks' colours

    summary = [(event['kind'], event['gate'], event['credits'], event['previous'], event['threshold']) for event in events()]
    assert summary == [
        ('below_warn_below', 'warn_below', 50.0, 500.0, 100.0),
        ('below_min_credits', 'min_credits', 5.0, 50.0, 10.0),
        ('recovered', 'warn_below', 1000.0, 4.0, 100.0),
        ('recovered', 'min_credits', 1000.0, 4.0, 10.0),
        ('error', None, None, None, None),
        ('below_warn_below', 'warn_below', 5.0, 1000.0, 100.0),
        ('below_min_credits', 'min_credits', 5.0, 1000.0, 10.0),
    ], text
    found = events()
    assert all(event['organization_id'] == ORG and event['organization_name'] == 'Alice Lab' for event in found if event['kind'] != 'error')
    assert found[1]['message'] == '%s has 5 credits, below min_credits 10' % LABEL
    assert found[2]['message'] == '%s has 1000 credits again, above warn_below 100' % LABEL
    error = found[4]['message']
    assert error.startswith('GET %s/v1/user/account failed with HTTP 503 service_unavailable' % simulator.url), error
    assert '\n' not in error

    # The example's own rules: the warning printed, the playbook run twice against the simulator.
    assert 'WARNING Stability AI: %s has 50 credits, below warn_below 100' % LABEL in text
    assert 'ERROR Stability AI balances unreadable: GET %s/v1/user/account failed' % simulator.url in text
    # (the first run reads 4 or 5 credits: the test spends on meanwhile)
    assert text.count('Stability AI: %s has 5 credits, below min_credits 10; %s has ' % (LABEL, ORG)) == 2, text
    assert len(re.findall(r'localhost\s+: ok=2\s+changed=0\s+unreachable=0\s+failed=0', text)) == 2, text
    assert ALICE_KEY not in text
    assert 'Traceback' not in text and 'Source error' not in text, text
    assert stopped_in_time and process.returncode == 130, text
