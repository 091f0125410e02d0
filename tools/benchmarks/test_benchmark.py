# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Bar a of the benchmark: the overhead over the floor, computed from the per-task medians (no playbook runs here)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchmark  # noqa: E402 pylint: disable=wrong-import-position


def test_the_overhead_is_the_per_task_time_over_a_ping_task_and_the_latency():
    # The 20-task playbooks of the run on main f1fe3df: 456.4, 496.9 and 276.2 ms a task over an empty play of 566.1 ms.
    empty = 0.5661
    ours, theirs, ratio = benchmark.overhead_ratio(empty + 20 * 0.4564, empty + 20 * 0.4969, empty + 20 * 0.2762, 20, 0.1)
    assert ours == pytest.approx(0.0802) and theirs == pytest.approx(0.1207)
    assert ratio == pytest.approx(0.0802 / 0.1207) and ratio > benchmark.BAR_A_OVERHEAD_RATIO


@pytest.mark.parametrize('ours, theirs', [
    (0.2762 * 20, 0.3762 * 20),  # uri no slower than a ping task plus the latency
    (0.3700 * 20, 0.4969 * 20),  # ours faster than that
])
def test_an_overhead_that_cannot_be_refuses_to_give_a_ratio(ours, theirs):
    with pytest.raises(ValueError, match='not measurable'):
        benchmark.overhead_ratio(ours, theirs, 0.2762 * 20, 20, 0.1)


class FakeSimulator(object):
    url = 'http://127.0.0.1:9'
    stopped = False

    def stop(self):
        self.stopped = True


@pytest.mark.parametrize('per_task, held', [((0.4564, 0.4969), False), ((0.4462, 0.4969), True)])
def test_scenario_a_runs_the_ping_floor_and_holds_the_bar_to_the_ratio(tmp_path, monkeypatch, per_task, held):
    """--no-baselines still runs the ping playbook, which the bar needs; the wall-time ratio is kept as information."""
    options = benchmark.parse_args(['--scenarios', 'a', '--no-baselines', '--repetitions', '3', '--warmup', '0', '--quiet'])
    bench = benchmark.Benchmark(options)
    bench.work_dir, bench.simulator = str(tmp_path), FakeSimulator()
    times = {'a_ours': per_task[0] * 20, 'a_theirs': per_task[1] * 20, 'a_ping': 0.2762 * 20}
    ran = []
    monkeypatch.setattr(bench, 'run_playbook', lambda name, *args, **kwargs: ran.append(name) or (times[name], 0))
    bench.scenario_a()
    assert ran == ['a_ours', 'a_theirs', 'a_ping'] * 3
    entry, = bench.bars
    assert (entry['id'], entry['held'], entry['bar']) == ('a', held, '<= 0.65')
    assert entry['value'] == pytest.approx((per_task[0] - 0.3762) / (per_task[1] - 0.3762))
    assert [item['id'] for item in bench.info] == ['a.wall_ratio']


def test_the_runs_keep_their_state_in_the_scratch_folder_which_cleanup_removes(tmp_path, monkeypatch):
    """Ansible's state (ANSIBLE_HOME, else ~/.ansible) and the collection's cache and rate guard state (XDG_CACHE_HOME;
    the caller's STABILITY_CACHE_DIR dropped) stay in the scratch folder, not in the home of whoever runs the benchmark."""
    work = tmp_path / 'bench'
    monkeypatch.setattr(benchmark.tempfile, 'mkdtemp', lambda prefix: (work.mkdir(), str(work))[1])
    simulator = FakeSimulator()
    monkeypatch.setattr(benchmark, 'Simulator', lambda *args: simulator)
    for name in ('ANSIBLE_HOME', 'STABILITY_CACHE_DIR', 'XDG_CACHE_HOME'):
        monkeypatch.setenv(name, str(tmp_path / 'home' / name))
    bench = benchmark.Benchmark(benchmark.parse_args(['--quiet']))
    bench.setup()
    state = dict((name, bench.env.get(name, '')) for name in ('ANSIBLE_HOME', 'XDG_CACHE_HOME'))
    assert all(value.startswith(str(work) + os.sep) for value in state.values()), state
    assert 'STABILITY_CACHE_DIR' not in bench.env
    bench.cleanup()
    assert simulator.stopped and not work.exists()
