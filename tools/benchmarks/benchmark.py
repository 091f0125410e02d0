# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Benchmark stabilityai.platform against what users write today (issue 6).

Starts the collection's simulator with tests/simulator/launcher.py (127.0.0.1, port 0,
``--latency``, rate limit off, a lifetime so it stops by itself), runs each scenario as real
``ansible-playbook`` runs, alternating ours and theirs within one run, and compares medians:

a. N ``stability_balance_info`` tasks vs N ``ansible.builtin.uri`` tasks with hand-made headers: what each
   task costs over the floor (a ``ping`` task plus the simulated latency), ours against uri's;
b. 200 local hosts, forks 20, a ``when:`` on our lookup vs on ``ansible.builtin.url`` (API requests
   counted from the simulator's request log; a fresh cache directory for each of our runs);
c. every balance of a 24-organization account: one ``all_organizations`` task vs the account module
   plus a ``uri`` loop;
d. the lookup's own cost per evaluation, in-process (lookup_probe.py);
e. the peak memory (max RSS) of one module process, ours vs ``uri``;
f. the ``credit_recap`` callback: the API round trips it adds to a playbook run per watched
   organization (counted from the simulator's log), and its CPU time in a fresh process
   (recap_probe.py).
g. the cost of one turn of the request budget shared by every process (rate_guard_probe.py).

Prints a table with every bar HELD or NOT HELD, writes it as JSON (``--output``), and exits 1 when a
bar is not held (``--no-fail``: 0), 2 when the benchmark itself could not run.

Run it as ``tools/benchmarks/run.sh [options]``; ``--help`` lists the options; ``--scenarios g`` runs
one scenario (here: the shared budget only).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import datetime
import glob
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PROBE = os.path.join(HERE, 'lookup_probe.py')
RECAP_PROBE = os.path.join(HERE, 'recap_probe.py')
RATE_GUARD_PROBE = os.path.join(HERE, 'rate_guard_probe.py')
DEFAULT_OUTPUT = os.path.join(HERE, 'results', 'latest.json')
sys.path.insert(0, os.path.join(REPO, 'tests', 'simulator'))
import launcher  # noqa: E402 pylint: disable=wrong-import-position

ALICE_KEY = 'sk-sim-alice-64Es19knE59ROToV'
BULK_KEY = 'sk-sim-bulk-8bKhjU0jxxwVS3LHc'
BULK_ORGANIZATIONS = 24
FLEET_SIZE = 200
FLEET_FORKS = 20
GATE_THRESHOLD = 100

BAR_A_OVERHEAD_RATIO = 0.65
BAR_C_RATIO = 0.25
BAR_D_HIT_S = 0.005
BAR_F_ROUND_TRIPS = 2
BAR_F_CPU_S = 0.050
BAR_D_MISS_OVERHEAD_S = 0.020
BAR_G_TURN_S = 0.001
VENDOR_WINDOW_S = 10.0

PLAYBOOK_TIMEOUT = 600
MODULE_TIMEOUT = 120


class BenchmarkError(Exception):
    """The benchmark could not measure (a playbook failed, the simulator did not start...)."""


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


# -- machine and environment ------------------------------------------------------------------

def cpu_model():
    try:
        with open('/proc/cpuinfo', 'r') as handle:
            for line in handle:
                if line.lower().startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_version(name):
    try:
        module = __import__(name)
        return getattr(module, '__version__', None)
    except ImportError:
        return None


def git_revision():
    try:
        head = subprocess.run(['git', '-C', REPO, 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True, timeout=10, check=False)
        dirty = subprocess.run(['git', '-C', REPO, 'status', '--porcelain', '--', 'plugins'], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode:
        return None
    return head.stdout.strip() + (' (plugins/ modified)' if dirty.stdout.strip() else '')


def load_average():
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine():
    from ansible.release import __version__ as ansible_version
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        'cpu_model': cpu_model(),
        'cores': os.cpu_count(),
        'usable_cores': usable,
        'python': platform.python_version(),
        'python_executable': sys.executable,
        'ansible_core': ansible_version,
        'requests': package_version('requests'),  # imported by the imports scenario only, not by the collection
        'urllib3': package_version('urllib3'),
        'os': platform.platform(),
        'git': git_revision(),
        'load_average_at_end': load_average(),
    }


def overhead_ratio(ours, theirs, ping, tasks, latency):
    """Bar a: ``(ours, theirs, ours / theirs)``, what a task of each module costs over the floor, in seconds.

    ``ours``, ``theirs`` and ``ping`` are the median wall times of the N-task playbooks (``tasks`` = N).  A task's
    floor is a ``ping`` task (Ansible's cost of running any module) plus the API's round trip (``latency``, which the
    simulator adds), so the overhead is the per-task wall time minus the ``ping`` task's, minus the latency:
    start-up, imports and request handling, the part of a task the module decides.  Per-task wall times are a
    playbook's time minus an empty play's, over N; the empty play cancels out of the difference.  The ratio of the
    whole playbooks' wall times would hide that part under the floor both pay.  ValueError when uri's overhead is
    not positive or ours negative: such a run measured noise, not the modules.
    """
    ours_overhead = (ours - ping) / tasks - latency
    theirs_overhead = (theirs - ping) / tasks - latency
    if theirs_overhead <= 0 or ours_overhead < 0:
        raise ValueError('overhead over the floor not measurable (ours %.1f ms, uri %.1f ms a task): rerun on a quieter machine' % (
            ours_overhead * 1000, theirs_overhead * 1000))
    return ours_overhead, theirs_overhead, ours_overhead / theirs_overhead


def median(values):
    return statistics.median(values) if values else None


def most_in_window(times, window):
    """The largest number of ``times`` that fall within any ``window`` seconds."""
    times = sorted(times)
    most = start = 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


# -- the simulator ----------------------------------------------------------------------------

class Simulator(object):
    """The collection's simulator, started and stopped by tests/simulator/launcher.py."""

    def __init__(self, work_dir, latency, lifetime):
        self.state_dir = os.path.join(work_dir, 'simulator')
        options = ['--latency', repr(latency), '--rate-limit', '0']
        if lifetime is not None:
            options += ['--lifetime', repr(lifetime)]
        try:
            self.url = launcher.start(self.state_dir, options).url
        except (launcher.LaunchError, OSError, subprocess.SubprocessError) as exc:
            raise BenchmarkError('the simulator did not start: %s' % exc) from exc

    def stop(self):
        launcher.stop(self.state_dir)

    def _control(self, method, path):
        request = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read().decode('utf-8'))

    def clear_requests(self):
        self._control('DELETE', '/_sim/requests')

    def requests(self):
        return self._control('GET', '/_sim/requests')


# -- content ----------------------------------------------------------------------------------

def yaml_string(value):
    return json.dumps(value)  # a JSON string is a YAML string


def play(hosts, tasks, variables=None, module_defaults=None, name='Benchmark'):
    lines = ['---', '- name: %s' % yaml_string(name), '  hosts: %s' % hosts, '  gather_facts: false']
    if variables:
        lines.append('  vars:')
        lines.extend('    %s: %s' % (key, yaml_string(value)) for key, value in variables.items())
    if module_defaults:
        lines.append('  module_defaults:')
        lines.append('    group/stabilityai.platform.stability:')
        lines.extend('      %s: %s' % (key, yaml_string(value)) for key, value in module_defaults.items())
    lines.append('  tasks:')
    lines.extend(tasks)
    return '\n'.join(lines) + '\n'


OURS_CREDENTIALS = {'api_url': '{{ bench_api_url }}', 'api_key': '{{ bench_api_key }}'}

URI_TASK = '''\
    - name: Balance %(index)d (ansible.builtin.uri)
      ansible.builtin.uri:
        url: "{{ bench_api_url }}/v1/user/balance"
        headers:
          Authorization: "Bearer {{ bench_api_key }}"
          Accept: application/json
      register: balance_%(index)d'''

OURS_TASK = '''\
    - name: Balance %(index)d (stabilityai.platform)
      stabilityai.platform.stability_balance_info:
      register: balance_%(index)d'''

PING_TASK = '''\
    - name: Ping %(index)d
      ansible.builtin.ping:'''

GATE_OURS = '''\
    - name: Gate on the credits left (stabilityai.platform.stability_balance)
      ansible.builtin.debug:
        msg: "{{ inventory_hostname }} may spend credits"
      when: lookup('stabilityai.platform.stability_balance', api_url=bench_api_url, api_key=bench_api_key) | float > %d''' % GATE_THRESHOLD

GATE_NONE = '''\
    - name: The same task without any lookup (the floor of a 200-host play)
      ansible.builtin.debug:
        msg: "{{ inventory_hostname }} may spend credits"
      when: 1000.0 | float > %d''' % GATE_THRESHOLD

GATE_THEIRS = '''\
    - name: Gate on the credits left (ansible.builtin.url)
      ansible.builtin.debug:
        msg: "{{ inventory_hostname }} may spend credits"
      when: >-
        (lookup('ansible.builtin.url', bench_api_url ~ '/v1/user/balance', split_lines=false,
                headers={'Authorization': 'Bearer ' ~ bench_api_key, 'Accept': 'application/json'})
         | from_json).credits | float > %d''' % GATE_THRESHOLD

ALL_OURS = '''\
    - name: Every balance of the account (stabilityai.platform)
      stabilityai.platform.stability_balance_info:
        all_organizations: true
      register: balances'''

ALL_THEIRS = '''\
    - name: The account and its organizations
      stabilityai.platform.stability_account_info:
      register: account

    - name: The balance of each organization (ansible.builtin.uri)
      ansible.builtin.uri:
        url: "{{ bench_api_url }}/v1/user/balance"
        headers:
          Authorization: "Bearer {{ bench_api_key }}"
          Accept: application/json
          Organization: "{{ item.id }}"
      loop: "{{ account.account.organizations }}"
      loop_control:
        label: "{{ item.id }}"
      register: balances'''

MODULE_RUNS = '''\
    - name: Our module
      stabilityai.platform.stability_balance_info:

    - name: The uri module
      ansible.builtin.uri:
        url: "{{ bench_api_url }}/v1/user/balance"
        headers:
          Authorization: "Bearer {{ bench_api_key }}"
          Accept: application/json

    - name: The ping module (the floor of any module run)
      ansible.builtin.ping:'''

RECAP = re.compile(r'^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)', re.MULTILINE)


# -- the benchmark ----------------------------------------------------------------------------

class Benchmark(object):

    def __init__(self, options):
        self.options = options
        self.work_dir = None
        self.simulator = None
        self.env = None
        self.bin_dir = os.path.dirname(os.path.abspath(sys.executable))
        self.last_log = []
        self.samples = {}
        self.bars = []
        self.info = []

    # set-up ---------------------------------------------------------------------------------

    def setup(self):
        self.work_dir = tempfile.mkdtemp(prefix='stability-bench-')
        collections = os.path.join(self.work_dir, 'collections')
        namespace = os.path.join(collections, 'ansible_collections', 'stabilityai')
        os.makedirs(namespace)
        os.symlink(REPO, os.path.join(namespace, 'platform'))
        for name in ('local', 'remote', 'keep', 'xdg-cache'):
            os.makedirs(os.path.join(self.work_dir, name))
        config = os.path.join(self.work_dir, 'ansible.cfg')
        with open(config, 'w') as handle:
            handle.write('[defaults]\n')
        self.simulator = Simulator(self.work_dir, self.options.latency, self.options.simulator_lifetime)
        env = dict((key, value) for key, value in os.environ.items() if not key.startswith(('ANSIBLE_', 'STABILITY_')))
        env.update({
            'ANSIBLE_CONFIG': config,
            'ANSIBLE_COLLECTIONS_PATH': collections,
            'ANSIBLE_LOCAL_TEMP': os.path.join(self.work_dir, 'local'),
            'ANSIBLE_REMOTE_TMP': os.path.join(self.work_dir, 'remote'),
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_RETRY_FILES_ENABLED': 'false',
            'ANSIBLE_DEPRECATION_WARNINGS': 'false',
            'ANSIBLE_LOCALHOST_WARNING': 'false',
            'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
            'ANSIBLE_PIPELINING': 'true' if self.options.pipelining else 'false',
            'XDG_CACHE_HOME': os.path.join(self.work_dir, 'xdg-cache'),  # the cache and the rate guard's state
            'ANSIBLE_HOME': os.path.join(self.work_dir, 'ansible'),  # else ansible-playbook makes ~/.ansible
            'PATH': self.bin_dir + os.pathsep + os.environ.get('PATH', ''),
        })
        self.env = env
        self.ansible_playbook = self._tool('ansible-playbook')
        host_vars = 'ansible_connection=local ansible_python_interpreter=%s' % sys.executable
        self._write('single.ini', '[bench]\nlocalhost %s\n' % host_vars)
        self._write('fleet.ini', '[fleet]\n%s\n[fleet:vars]\n%s\n' % (
            '\n'.join('host%03d' % index for index in range(1, FLEET_SIZE + 1)), host_vars.replace(' ', '\n')))

    def cleanup(self):
        if self.simulator is not None:
            self.simulator.stop()
        if self.work_dir is not None and not self.options.keep:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def _tool(self, name):
        candidate = os.path.join(self.bin_dir, name)
        if os.access(candidate, os.X_OK):
            return candidate
        found = shutil.which(name, path=self.env['PATH'])
        if not found:
            raise BenchmarkError('%s not found next to %s nor on PATH' % (name, sys.executable))
        return found

    def _write(self, name, text):
        path = os.path.join(self.work_dir, name)
        with open(path, 'w') as handle:
            handle.write(text)
        return path

    # running --------------------------------------------------------------------------------

    def run_playbook(self, name, inventory, forks=5, env=None, expect_requests=None, expect_recap=None):
        """Run one playbook; return its wall time in seconds and the API requests it made."""
        self.simulator.clear_requests()
        log_path = os.path.join(self.work_dir, name + '.log')
        command = [self.ansible_playbook, '-i', os.path.join(self.work_dir, inventory), '-f', str(forks),
                   os.path.join(self.work_dir, name + '.yml')]
        run_env = dict(self.env, **(env or {}))
        with open(log_path, 'w') as log:
            started = time.perf_counter()
            result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=run_env, cwd=self.work_dir,
                                    timeout=PLAYBOOK_TIMEOUT, check=False)
            elapsed = time.perf_counter() - started
        with open(log_path) as log:
            output = log.read()
        if result.returncode != 0:
            raise BenchmarkError('%s failed (rc %d):\n%s' % (name, result.returncode, output[-3000:]))
        self.last_log = self.simulator.requests()
        requests = len(self.last_log)
        if expect_requests is not None and requests != expect_requests:
            raise BenchmarkError('%s made %d API requests, expected %d' % (name, requests, expect_requests))
        if expect_recap is not None:
            recap = RECAP.findall(output)
            wrong = [line for line in recap if (int(line[1]), int(line[5])) != expect_recap]
            if len(recap) == 0 or wrong:
                raise BenchmarkError('%s: unexpected recap (want ok=%d skipped=%d on every host): %s' % (
                    name, expect_recap[0], expect_recap[1], wrong[:3] or 'no recap'))
        return elapsed, requests

    def alternate(self, key, runs, repetitions, warmup):
        """Run every (label, callable) in ``runs`` in turn, ``repetitions`` times after ``warmup`` rounds."""
        samples = dict((label, []) for label, dummy in runs)
        counts = dict((label, []) for label, dummy in runs)
        for round_index in range(warmup + repetitions):
            for label, function in runs:
                elapsed, requests = function()
                if round_index >= warmup:
                    samples[label].append(elapsed)
                    counts[label].append(requests)
            self.progress('%s: round %d/%d done' % (key, round_index + 1, warmup + repetitions))
        self.samples[key] = {'wall_s': samples, 'api_requests': counts}
        return samples, counts

    def progress(self, message):
        if not self.options.quiet:
            sys.stderr.write('[benchmark %s] %s\n' % (time.strftime('%H:%M:%S'), message))
            sys.stderr.flush()

    # results --------------------------------------------------------------------------------

    def record_bar(self, bar_id, what, ours, theirs, value, target, held, unit='s', note=None):
        self.bars.append({'id': bar_id, 'what': what, 'ours': ours, 'theirs': theirs, 'value': value,
                          'bar': target, 'held': bool(held), 'unit': unit, 'note': note})

    def note(self, info_id, what, value, unit='', note=None):
        self.info.append({'id': info_id, 'what': what, 'value': value, 'unit': unit, 'note': note})

    # scenarios ------------------------------------------------------------------------------

    def scenario_a(self):
        count = self.options.tasks
        variables = {'bench_api_url': self.simulator.url, 'bench_api_key': ALICE_KEY}
        self._write('a_ours.yml', play('bench', [OURS_TASK % {'index': i} for i in range(1, count + 1)],
                                       variables, OURS_CREDENTIALS, 'N balance tasks: stabilityai.platform'))
        self._write('a_theirs.yml', play('bench', [URI_TASK % {'index': i} for i in range(1, count + 1)],
                                         variables, name='N balance tasks: ansible.builtin.uri'))
        self._write('a_ping.yml', play('bench', [PING_TASK % {'index': i} for i in range(1, count + 1)], name='N ping tasks'))
        self._write('a_empty.yml', play('bench', ['    - name: Nothing\n      ansible.builtin.meta: noop'], name='Empty play'))
        runs = [
            ('ours', lambda: self.run_playbook('a_ours', 'single.ini', expect_requests=count, expect_recap=(count, 0))),
            ('theirs', lambda: self.run_playbook('a_theirs', 'single.ini', expect_requests=count, expect_recap=(count, 0))),
            # The floor of bar a: always run, --no-baselines or not.
            ('ping', lambda: self.run_playbook('a_ping', 'single.ini', expect_requests=0, expect_recap=(count, 0))),
        ]
        if self.options.baselines:
            runs.append(('empty', lambda: self.run_playbook('a_empty', 'single.ini', expect_requests=0)))
        samples, dummy = self.alternate('a', runs, self.options.repetitions, self.options.warmup)
        ours, theirs, ping = median(samples['ours']), median(samples['theirs']), median(samples['ping'])
        try:
            ours_overhead, theirs_overhead, ratio = overhead_ratio(ours, theirs, ping, count, self.options.latency)
        except ValueError as exc:
            raise BenchmarkError('scenario a: %s' % exc) from exc
        self.record_bar('a', '%d balance tasks: overhead over the floor (ping task + latency), stability_balance_info vs uri' % count,
                        ours_overhead, theirs_overhead, ratio, '<= %.2f' % BAR_A_OVERHEAD_RATIO, ratio <= BAR_A_OVERHEAD_RATIO)
        self.note('a.wall_ratio', 'a: playbook wall time, stability_balance_info / uri (%d tasks each)' % count, ours / theirs)
        if self.options.baselines:
            empty = median(samples['empty'])
            for label, what in (('ours', 'stability_balance_info'), ('theirs', 'uri'), ('ping', 'ping (no request)')):
                self.note('a.per_task.%s' % label, 'a: wall time per task, %s' % what,
                          (median(samples[label]) - empty) / count, 's', 'median playbook minus an empty play, over N')
            self.note('a.empty_play', 'a: ansible-playbook with an empty play', empty, 's')

    def scenario_b(self):
        variables = {'bench_api_url': self.simulator.url, 'bench_api_key': ALICE_KEY}
        self._write('b_ours.yml', play('fleet', [GATE_OURS], variables, name='Gate 200 hosts: stabilityai.platform lookup'))
        self._write('b_theirs.yml', play('fleet', [GATE_THEIRS], variables, name='Gate 200 hosts: ansible.builtin.url lookup'))
        self._write('b_none.yml', play('fleet', [GATE_NONE], variables, name='Gate 200 hosts: no lookup'))
        cache_dirs = []

        def ours():
            cache_dir = os.path.join(self.work_dir, 'cache-b-%d' % len(cache_dirs))
            cache_dirs.append(cache_dir)
            return self.run_playbook('b_ours', 'fleet.ini', forks=FLEET_FORKS, env={'STABILITY_CACHE_DIR': cache_dir},
                                     expect_recap=(1, 0))

        def theirs():
            return self.run_playbook('b_theirs', 'fleet.ini', forks=FLEET_FORKS, expect_recap=(1, 0))

        runs = [('ours', ours), ('theirs', theirs)]
        if self.options.baselines:
            runs.append(('none', lambda: self.run_playbook('b_none', 'fleet.ini', forks=FLEET_FORKS, expect_requests=0,
                                                           expect_recap=(1, 0))))
        samples, counts = self.alternate('b', runs, self.options.repetitions, self.options.warmup)
        worst_ours, fewest_theirs = max(counts['ours']), min(counts['theirs'])
        self.record_bar('b1', '%d hosts, forks %d, when: lookup: API requests (most in a run)' % (FLEET_SIZE, FLEET_FORKS),
                        worst_ours, fewest_theirs, None, '1 vs %d' % FLEET_SIZE,
                        set(counts['ours']) == {1} and set(counts['theirs']) == {FLEET_SIZE}, unit='requests')
        ours_wall, theirs_wall = median(samples['ours']), median(samples['theirs'])
        self.record_bar('b2', '%d hosts, forks %d, when: lookup: wall time' % (FLEET_SIZE, FLEET_FORKS), ours_wall, theirs_wall,
                        ours_wall / theirs_wall, '< 1', ours_wall < theirs_wall)
        if self.options.baselines:
            self.note('b.no_lookup', 'b: the same 200-host play without a lookup', median(samples['none']), 's')

    def scenario_c(self):
        variables = {'bench_api_url': self.simulator.url, 'bench_api_key': BULK_KEY}
        credentials = dict(OURS_CREDENTIALS)
        self._write('c_ours.yml', play('bench', [ALL_OURS], variables, credentials, name='Every balance: all_organizations'))
        self._write('c_theirs.yml', play('bench', [ALL_THEIRS], variables, credentials, name='Every balance: account module + uri loop'))
        expected = BULK_ORGANIZATIONS + 1
        peaks = []

        def ours():
            result = self.run_playbook('c_ours', 'single.ini', expect_requests=expected, expect_recap=(1, 0))
            peaks.append(most_in_window([entry['time'] for entry in self.last_log], VENDOR_WINDOW_S))
            return result

        runs = [
            ('ours', ours),
            ('theirs', lambda: self.run_playbook('c_theirs', 'single.ini', expect_requests=expected, expect_recap=(2, 0))),
        ]
        samples, dummy = self.alternate('c', runs, self.options.repetitions, self.options.warmup)
        ours, theirs = median(samples['ours']), median(samples['theirs'])
        self.record_bar('c', '%d organizations: all_organizations vs account + uri loop' % BULK_ORGANIZATIONS, ours, theirs,
                        ours / theirs, '<= %.2f' % BAR_C_RATIO, ours / theirs <= BAR_C_RATIO)
        self.note('c.peak_window', 'c: most API requests of one all_organizations task in any %g s (vendor limit 150)' % VENDOR_WINDOW_S,
                  max(peaks), 'requests')

    def probe(self, *arguments, **options):
        command = [sys.executable, options.get('script', PROBE)] + [str(argument) for argument in arguments]
        result = subprocess.run(command, capture_output=True, text=True, env=self.env, cwd=self.work_dir,
                                timeout=PLAYBOOK_TIMEOUT, check=False)
        if result.returncode != 0:
            raise BenchmarkError('lookup probe %s failed: %s' % (arguments[0], (result.stderr or result.stdout)[-3000:]))
        return json.loads(result.stdout.strip().splitlines()[-1])

    def scenario_d(self):
        cache_dir = os.path.join(self.work_dir, 'cache-d')
        timing = self.probe('timing', self.simulator.url, ALICE_KEY, cache_dir, self.options.lookup_hits, self.options.lookup_misses)
        imports = self.probe('hit-imports', self.simulator.url, ALICE_KEY, cache_dir)
        self.samples['d'] = {'timing': timing, 'hit_imports': imports}
        hit = timing['hit_median_s']
        self.record_bar('d1', 'lookup cache hit, in-process (median of %d)' % len(timing['hit_s']), hit, None, None,
                        '< %d ms' % (BAR_D_HIT_S * 1000), hit < BAR_D_HIT_S)
        loaded = ', '.join(imports['http_libraries_after']) or 'none'
        self.record_bar('d2', 'HTTP client modules a cache hit loads in a fresh process', loaded, None, None, 'none',
                        not imports['http_libraries_after'] and imports['value'] == timing['value'], unit='')
        overhead = timing['miss_median_s'] - timing['bare_median_s']
        self.record_bar('d3', 'lookup miss (cache_ttl=0) over a bare http.client GET (medians of %d)' % len(timing['miss_s']),
                        timing['miss_median_s'], timing['bare_median_s'], overhead, '< %d ms over' % (BAR_D_MISS_OVERHEAD_S * 1000),
                        overhead < BAR_D_MISS_OVERHEAD_S)
        self.note('d.cold_miss', 'd: first miss in a fresh process (imports the client: http.client, ssl)', timing['cold_miss_s'], 's')

    def scenario_e(self):
        variables = {'bench_api_url': self.simulator.url, 'bench_api_key': ALICE_KEY}
        self._write('e_keep.yml', play('bench', [MODULE_RUNS], variables, OURS_CREDENTIALS, name='Keep the AnsiballZ payloads'))
        keep = os.path.join(self.work_dir, 'keep')
        self.run_playbook('e_keep', 'single.ini', env={'ANSIBLE_KEEP_REMOTE_FILES': 'true', 'ANSIBLE_REMOTE_TMP': keep,
                                                       'ANSIBLE_PIPELINING': 'false'})
        payloads = {}
        for label, module in (('ours', 'stability_balance_info'), ('theirs', 'uri'), ('ping', 'ping')):
            found = glob.glob(os.path.join(keep, '*', 'AnsiballZ_%s.py' % module))
            if len(found) != 1:
                raise BenchmarkError('expected one kept AnsiballZ_%s.py, found %d' % (module, len(found)))
            payloads[label] = found[0]
        wall = dict((label, []) for label in payloads)
        rss = dict((label, []) for label in payloads)
        rounds = self.options.module_runs
        for round_index in range(rounds + 1):
            for label in ('ours', 'theirs', 'ping'):
                elapsed, max_rss_kib = self.run_module(payloads[label])
                if round_index:  # the first round warms the page cache
                    wall[label].append(elapsed)
                    rss[label].append(max_rss_kib)
        self.samples['e'] = {'module_wall_s': wall, 'max_rss_kib': rss}
        ours, theirs = median(rss['ours']) / 1024.0, median(rss['theirs']) / 1024.0
        self.record_bar('e', 'peak memory (max RSS) of one module process', ours, theirs, ours / theirs, '<= 1.00',
                        ours <= theirs, unit='MiB')
        self.note('e.rss.ping', 'e: max RSS of a ping module process', median(rss['ping']) / 1024.0, 'MiB')
        overhead = {}
        for label, what in (('ours', 'stability_balance_info'), ('theirs', 'uri')):
            overhead[label] = median(wall[label]) - median(wall['ping']) - self.options.latency
            self.note('e.overhead.%s' % label, 'e: module process over the floor (minus a ping process and the latency), %s' % what,
                      overhead[label], 's', 'start-up, imports, request handling and exit beyond what every module pays')
        if overhead['theirs'] > 0 and overhead['ours'] >= 0:  # else noise, not a ratio
            self.note('e.overhead_ratio', 'e: module process over the floor, stability_balance_info / uri', overhead['ours'] / overhead['theirs'])
        for label, what in (('ours', 'stability_balance_info'), ('theirs', 'uri'), ('ping', 'ping (no request)')):
            self.note('e.wall.%s' % label, 'e: one module process run directly (AnsiballZ), %s' % what, median(wall[label]), 's',
                      'includes the simulated latency' if label != 'ping' else None)

    def scenario_f(self):
        organizations = ['org-bulk-%02d' % index for index in range(1, 5)]
        self._write('f_recap.yml', play('bench', ['    - name: Nothing\n      ansible.builtin.meta: noop'], name='A run with the recap'))
        env = {'ANSIBLE_CALLBACKS_ENABLED': 'stabilityai.platform.credit_recap', 'STABILITY_API_URL': self.simulator.url,
               'STABILITY_API_KEY': BULK_KEY, 'STABILITY_RECAP_ORGANIZATIONS': ','.join(organizations),
               'STABILITY_LEDGER': os.path.join(self.work_dir, 'f-ledger.jsonl')}
        dummy, requests = self.run_playbook('f_recap', 'single.ini', env=env)
        with open(os.path.join(self.work_dir, 'f_recap.log')) as log:
            if 'STABILITY AI CREDITS' not in log.read():
                raise BenchmarkError('the credit_recap callback printed no recap')
        per_organization = requests / float(len(organizations))
        self.record_bar('f1', 'credit_recap: API round trips per watched organization (%d watched)' % len(organizations),
                        per_organization, None, per_organization, '<= %d' % BAR_F_ROUND_TRIPS,
                        per_organization <= BAR_F_ROUND_TRIPS, unit='')
        cpu = []
        for index in range(self.options.module_runs):
            work = os.path.join(self.work_dir, 'f-probe-%d' % index)
            os.makedirs(work)
            result = subprocess.run([sys.executable, RECAP_PROBE, self.simulator.url, BULK_KEY, work, ','.join(organizations)],
                                    capture_output=True, text=True, env=self.env, timeout=PLAYBOOK_TIMEOUT, check=False)
            if result.returncode != 0:
                raise BenchmarkError('recap probe failed: %s' % (result.stderr or result.stdout)[-3000:])
            cpu.append(json.loads(result.stdout.strip().splitlines()[-1])['cpu_s'])
        self.samples['f'] = {'api_requests': requests, 'cpu_s': cpu}
        self.record_bar('f2', 'credit_recap: CPU of a run (imports, both readings, ledger, runway, report; median of %d)' % len(cpu),
                        median(cpu), None, None, '< %d ms' % (BAR_F_CPU_S * 1000), median(cpu) < BAR_F_CPU_S)

    def scenario_g(self):
        result = self.probe(os.path.join(self.work_dir, 'rate-guard'), 5, 4, script=RATE_GUARD_PROBE)
        self.samples['g'] = result
        typical = result['typical']
        self.record_bar('g', 'shared request budget: one turn, state of 100-200 turns (median of %d)' % typical['turns'],
                        typical['median_s'], None, None, '< %d ms' % (BAR_G_TURN_S * 1000), typical['median_s'] < BAR_G_TURN_S)
        self.note('g.p95', 'g: 95th percentile of a turn, state of 100-200 turns', typical['p95_s'], 's')
        self.note('g.large', 'g: median turn, state of 800-1000 turns (rate_limit 1000/S)', result['large']['median_s'], 's')
        self.note('g.contended', 'g: wall time per turn, %d processes taking turns at once' % result['processes'],
                  result['contended_per_turn_s'], 's')

    def run_module(self, payload):
        """Run one AnsiballZ payload; its wall time and its own max RSS (KiB, from wait4)."""
        with open(os.devnull, 'w') as devnull, tempfile.TemporaryFile() as output:
            started = time.perf_counter()
            process = subprocess.Popen([sys.executable, payload], stdout=output, stderr=devnull, stdin=subprocess.DEVNULL,
                                       cwd=self.work_dir, env=self.env)
            try:
                dummy, status, usage = os.wait4(process.pid, 0)
            except BaseException:
                process.kill()
                process.wait(MODULE_TIMEOUT)
                raise
            elapsed = time.perf_counter() - started
            process.returncode = os.waitstatus_to_exitcode(status)
            output.seek(0)
            text = output.read().decode('utf-8', 'replace')
        try:
            result = json.loads(text[text.index('{'):])
        except ValueError:
            result = {'failed': True, 'msg': text[-500:]}
        if process.returncode != 0 or result.get('failed'):
            raise BenchmarkError('%s failed: %s' % (os.path.basename(payload), result.get('msg')))
        return elapsed, usage.ru_maxrss

    def scenario_imports(self):
        """Import cost of each HTTP stack in a fresh interpreter that already has ansible.module_utils.basic.

        Why the client uses http.client: requests (the client's transport up to 2.0.0; the benchmark's
        venv has it for this scenario only), ansible.module_utils.urls (what ansible.builtin.uri uses)
        and http.client (the client's transport now).
        """
        code = ('import time, ansible.module_utils.basic\n'
                'started = time.perf_counter()\n'
                'import %s\n'
                'print(time.perf_counter() - started)\n')
        stacks = (('requests', 'requests'), ('ansible.module_utils.urls', 'urls'), ('http.client', 'http_client'))
        uses = {'requests': 'the client up to 2.0.0', 'urls': 'ansible.builtin.uri', 'http_client': 'the client now'}
        seconds = dict((label, []) for dummy, label in stacks)
        for dummy in range(self.options.module_runs):
            for module, label in stacks:
                result = subprocess.run([sys.executable, '-c', code % module], capture_output=True, text=True,
                                        env=self.env, timeout=MODULE_TIMEOUT, check=True)
                seconds[label].append(float(result.stdout.strip()))
        self.samples['imports'] = seconds
        for module, label in stacks:
            self.note('imports.%s' % label, 'import %s (%s) after ansible.module_utils.basic (compiled, fresh process)' % (module, uses[label]),
                      median(seconds[label]), 's')

    # report ---------------------------------------------------------------------------------

    def report(self, started, finished):
        return {
            'schema': 1,
            'started': started,
            'finished': finished,
            'machine': machine(),
            'parameters': {
                'latency_s': self.options.latency,
                'tasks': self.options.tasks,
                'repetitions': self.options.repetitions,
                'warmup': self.options.warmup,
                'module_runs': self.options.module_runs,
                'lookup_hits': self.options.lookup_hits,
                'lookup_misses': self.options.lookup_misses,
                'fleet_hosts': FLEET_SIZE,
                'fleet_forks': FLEET_FORKS,
                'organizations': BULK_ORGANIZATIONS,
                'pipelining': self.options.pipelining,
                'scenarios': self.options.scenarios,
            },
            'bars': self.bars,
            'info': self.info,
            'all_held': all(entry['held'] for entry in self.bars),
            'samples': self.samples,
        }


def fmt(value, unit):
    if value is None:
        return '-'
    if isinstance(value, str):
        return value
    if unit == 's':
        if abs(value) < 0.001:
            return '%.3f ms' % (value * 1000)
        return '%.1f ms' % (value * 1000) if abs(value) < 1 else '%.2f s' % value
    if unit == 'MiB':
        return '%.1f MiB' % value
    if unit == 'requests':
        return '%d' % value
    return '%.3g' % value


def simple_table(rows):
    """Rows of text (the first the header) as fixed-width text that is also a reST simple table."""
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]))]
    rule = '  '.join('=' * width for width in widths)
    lines = [rule, '  '.join(cell.ljust(width) for cell, width in zip(rows[0], widths)).rstrip(), rule]
    lines.extend('  '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows[1:])
    lines.append(rule)
    return '\n'.join(lines)


def table(report):
    """The results as fixed-width text (also valid as the body of a reST simple table)."""
    rows = [('bar', 'what', 'ours', 'theirs', 'value', 'target', 'verdict')]
    for entry in report['bars']:
        value = entry['value']
        if entry['id'] == 'd3':
            value_text = '+%.1f ms' % (value * 1000)
        elif value is None:
            value_text = '-'
        else:
            value_text = '%.2f' % value
        rows.append((entry['id'], entry['what'], fmt(entry['ours'], entry['unit']), fmt(entry['theirs'], entry['unit']), value_text,
                     entry['bar'], 'HELD' if entry['held'] else 'NOT HELD'))
    return simple_table(rows)


def info_table(report):
    rows = [('id', 'measured (information, no bar)', 'value')]
    for item in report['info']:
        rows.append((item['id'], item['what'], fmt(item['value'], item['unit'])))
    return simple_table(rows)


def machine_line(report):
    info = report['machine']
    return '%s, %s cores (%s usable), Python %s, ansible-core %s, %s; latency %g ms, N=%d, %d repetitions' % (
        info['cpu_model'], info['cores'], info['usable_cores'], info['python'], info['ansible_core'], info['os'],
        report['parameters']['latency_s'] * 1000, report['parameters']['tasks'], report['parameters']['repetitions'])


SCENARIOS = ('a', 'b', 'c', 'd', 'e', 'f', 'g', 'imports')


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='tools/benchmarks/run.sh', description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--latency', type=float, default=0.1, help='seconds the simulator adds to every API request (default 0.1)')
    parser.add_argument('--tasks', type=int, default=20, help='N, the number of balance tasks in scenario a (default 20)')
    parser.add_argument('--repetitions', type=int, default=5, help='measured rounds of each playbook scenario (default 5)')
    parser.add_argument('--warmup', type=int, default=1, help='unmeasured rounds before them (default 1)')
    parser.add_argument('--module-runs', type=int, default=7, help='runs of each module process in scenario e (default 7)')
    parser.add_argument('--lookup-hits', type=int, default=300, help='cache hits timed in scenario d (default 300)')
    parser.add_argument('--lookup-misses', type=int, default=21, help='misses and bare GETs timed in scenario d (default 21)')
    parser.add_argument('--no-baselines', dest='baselines', action='store_false',
                        help='skip the baseline runs (the empty play in a, no lookup in b) that only explain where the time goes')
    parser.add_argument('--pipelining', action='store_true', help='run every playbook with ANSIBLE_PIPELINING=true')
    parser.add_argument('--scenarios', default=','.join(SCENARIOS), help='comma-separated subset of %s' % ','.join(SCENARIOS))
    parser.add_argument('--output', default=DEFAULT_OUTPUT, help='JSON results file (default tools/benchmarks/results/latest.json)')
    parser.add_argument('--simulator-lifetime', type=float,
                        help="seconds after which the simulator stops by itself (default: the simulator's, 900; raise it for long runs)")
    parser.add_argument('--no-fail', dest='fail', action='store_false', help='exit 0 even when a bar is not held')
    parser.add_argument('--keep', action='store_true', help='keep the scratch directory (playbooks, logs) for inspection')
    parser.add_argument('--quiet', action='store_true', help='no progress lines on stderr')
    options = parser.parse_args(argv)
    options.scenarios = [name.strip() for name in options.scenarios.split(',') if name.strip()]
    unknown = [name for name in options.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error('unknown scenario(s): %s' % ', '.join(unknown))
    if options.latency < 0 or options.tasks < 1 or options.repetitions < 1 or options.warmup < 0 or options.module_runs < 1:
        parser.error('--latency must be >= 0; --tasks, --repetitions and --module-runs >= 1; --warmup >= 0')
    if options.lookup_hits < 1 or options.lookup_misses < 1:
        parser.error('--lookup-hits and --lookup-misses must be >= 1')
    return options


def main(argv=None):
    options = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _terminate)
    benchmark = Benchmark(options)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
    try:
        benchmark.setup()
        benchmark.progress('simulator at %s (latency %g s, rate limit off), scratch %s' % (
            benchmark.simulator.url, options.latency, benchmark.work_dir))
        for name in options.scenarios:
            benchmark.progress('scenario %s' % name)
            getattr(benchmark, 'scenario_%s' % name)()
    except BenchmarkError as exc:
        sys.stderr.write('benchmark: error: %s\n' % exc)
        return 2
    finally:
        benchmark.cleanup()
    finished = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
    report = benchmark.report(started, finished)
    report['table'] = table(report)
    os.makedirs(os.path.dirname(os.path.abspath(options.output)), exist_ok=True)
    with open(options.output, 'w') as handle:
        json.dump(report, handle, indent=2, sort_keys=False)
        handle.write('\n')
    print(machine_line(report))
    print(report['table'])
    if report['info']:
        print(info_table(report))
    print('%s; results written to %s' % ('every bar held' if report['all_held'] else 'NOT every bar held', options.output))
    return 1 if options.fail and not report['all_held'] else 0


if __name__ == '__main__':
    sys.exit(main())
