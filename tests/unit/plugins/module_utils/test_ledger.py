# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The ledger file: private, locked, never followed through a link, bounded, forgiving to read."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import errno
import fcntl
import json
import multiprocessing
import os
import stat
import sys
import threading
import time
import types

import pytest

from ansible_collections.stabilityai.platform.plugins.module_utils import _ledger, _locking
from ansible_collections.stabilityai.platform.plugins.module_utils._ledger import (
    LedgerError,
    append_readings,
    format_time,
    parse_time,
    read_readings,
)


def reading(credits=10.5, run_id='run-1', event='start', organization='org-a', time='2026-03-10T12:00:00.000000Z'):
    return dict(time=time, organization_id=organization, credits=credits, run_id=run_id, event=event, playbook='site.yml')


def test_append_creates_a_private_file_and_reads_back(tmp_path):
    path = str(tmp_path / 'ledger.jsonl')
    append_readings(path, [reading(), reading(event='end', credits=9.25)])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    readings, warnings = read_readings(path)
    assert readings == [reading(), reading(event='end', credits=9.25)]
    assert warnings == []


def test_a_line_holds_the_ledger_fields_and_nothing_else(tmp_path):
    path = str(tmp_path / 'ledger.jsonl')
    append_readings(path, [dict(reading(), api_key='sk-secret', extra=1)])
    with open(path) as handle:
        line = json.loads(handle.readline())
    assert sorted(line) == ['credits', 'event', 'organization_id', 'playbook', 'run_id', 'time']


def test_a_missing_ledger_has_no_readings_and_is_not_created_by_reading(tmp_path):
    assert read_readings(str(tmp_path / 'none.jsonl')) == ([], [])
    assert os.listdir(str(tmp_path)) == []


def test_an_existing_file_keeps_its_mode(tmp_path):
    path = tmp_path / 'ledger.jsonl'
    path.write_text('')
    os.chmod(str(path), 0o640)
    append_readings(str(path), [reading()])
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o640


def test_a_symbolic_link_is_refused_for_writing_and_reading(tmp_path):
    target = tmp_path / 'elsewhere'
    target.write_text('')
    link = tmp_path / 'ledger.jsonl'
    link.symlink_to(target)
    for use in (lambda: append_readings(str(link), [reading()]), lambda: read_readings(str(link))):
        with pytest.raises(LedgerError) as caught:
            use()
        assert str(caught.value) == '%s is a symbolic link (it is not followed), not a regular file' % link
    assert target.read_text() == ''


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(LedgerError) as caught:
        append_readings(str(tmp_path), [reading()])
    assert str(caught.value) == '%s is a directory, not a regular file' % tmp_path


def test_an_unwritable_place_is_a_ledger_error_naming_the_path(tmp_path):
    path = str(tmp_path / 'missing-dir' / 'ledger.jsonl')
    with pytest.raises(LedgerError, match='^%s cannot be opened' % path):
        append_readings(path, [reading()])


def test_bad_lines_are_skipped_with_one_warning(tmp_path):
    path = tmp_path / 'ledger.jsonl'
    good = json.dumps(reading())
    path.write_bytes('\n'.join([
        good,
        'not json',
        json.dumps(reading(credits='12')),
        json.dumps(dict(reading(), time='yesterday')),
        json.dumps(dict(reading(), event='middle')),
        json.dumps(dict(reading(), run_id=None)),
        json.dumps(dict(reading(), organization_id=5)),
        '{"credits": NaN}',
        '[1, 2]',
        '',
        good,
    ]).encode('utf-8') + b'\n\xff\xfe\n')
    readings, warnings = read_readings(str(path))
    assert readings == [reading(), reading()]
    assert len(warnings) == 1
    assert warnings[0].startswith('ledger %s: skipped 9 lines that are not a reading (first: line 2, ' % path)


def test_one_bad_line_is_worded_in_the_singular(tmp_path):
    path = tmp_path / 'ledger.jsonl'
    path.write_text('{"half": \n')
    assert read_readings(str(path))[1][0].startswith('ledger %s: skipped 1 line that is not a reading (first: line 1, ' % path)


def test_growth_is_bounded_keeping_the_newest_whole_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(_ledger, 'LEDGER_MAX_BYTES', 2000)
    monkeypatch.setattr(_ledger, 'LEDGER_KEEP_BYTES', 1000)
    path = str(tmp_path / 'ledger.jsonl')
    for number in range(60):
        append_readings(path, [reading(run_id='run-%02d' % number)])
        assert os.path.getsize(path) <= 2000 + 200
    readings, warnings = read_readings(path)
    assert warnings == []
    assert readings[-1]['run_id'] == 'run-59'
    assert 5 <= len(readings) < 20
    assert [item['run_id'] for item in readings] == ['run-%02d' % number for number in range(60 - len(readings), 60)]


def test_an_append_waits_for_the_lock(tmp_path):
    path = str(tmp_path / 'ledger.jsonl')
    append_readings(path, [reading()])
    holder = os.open(path, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    done = threading.Event()
    writer = threading.Thread(target=lambda: (append_readings(path, [reading(event='end')]), done.set()))
    writer.start()
    time.sleep(0.2)
    assert not done.is_set()
    os.close(holder)
    writer.join(5)
    assert done.is_set()
    assert len(read_readings(path)[0]) == 2


def _append_many(path, writer):
    for number in range(200):
        append_readings(path, [reading(run_id='%s-%d' % (writer, number)), reading(run_id='%s-%d' % (writer, number), event='end')])


def test_concurrent_processes_never_interleave_lines(tmp_path):
    path = str(tmp_path / 'ledger.jsonl')
    workers = [multiprocessing.Process(target=_append_many, args=(path, 'w%d' % index)) for index in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    readings, warnings = read_readings(path)
    assert warnings == []
    assert len(readings) == 4 * 200 * 2


def test_a_line_is_json_with_sorted_keys(tmp_path):
    path = tmp_path / 'ledger.jsonl'
    append_readings(str(path), [reading()])
    assert path.read_text() == ('{"credits": 10.5, "event": "start", "organization_id": "org-a", "playbook": "site.yml", '
                                '"run_id": "run-1", "time": "2026-03-10T12:00:00.000000Z"}\n')


@pytest.mark.parametrize('line, reason', [
    ('[1, 2]', 'not a JSON object'),
    (json.dumps(reading(time=5)), 'time is not a string'),
    (json.dumps(reading(organization=5)), 'organization_id is not a string or null'),
    (json.dumps(reading(credits='12')), 'credits is not a finite number'),
    (json.dumps(reading(credits=float('inf'))), 'credits is not a finite number'),
    (json.dumps(reading(credits=10 ** 400)), 'credits is not a finite number'),
    (json.dumps(reading(event='middle')), 'event is not start or end'),
    (json.dumps(reading(run_id='')), 'run_id is not a non-empty string'),
    (json.dumps(reading(run_id=5)), 'run_id is not a non-empty string'),
    (json.dumps(reading(time='x' * 200)), "Invalid isoformat string: '%s" % ('x' * 93)),
])
def test_the_warning_says_why_the_first_bad_line_is_not_a_reading(tmp_path, line, reason):
    path = tmp_path / 'ledger.jsonl'
    path.write_text(line + '\n')
    assert read_readings(str(path)) == ([], ['ledger %s: skipped 1 line that is not a reading (first: line 1, %s)' % (path, reason)])


def test_the_largest_float_is_still_a_reading(tmp_path):
    path = tmp_path / 'ledger.jsonl'
    append_readings(str(path), [reading(credits=sys.float_info.max), reading(credits=-sys.float_info.max)])
    assert [item['credits'] for item in read_readings(str(path))[0]] == [sys.float_info.max, -sys.float_info.max]


def test_a_reason_without_words_is_named_by_its_type(tmp_path, monkeypatch):
    def refuse(reading):
        raise ValueError()
    monkeypatch.setattr(_ledger, 'check_reading', refuse)
    path = tmp_path / 'ledger.jsonl'
    append_readings(str(path), [reading()])
    assert read_readings(str(path))[1] == ['ledger %s: skipped 1 line that is not a reading (first: line 1, ValueError)' % path]


def test_a_ledger_that_cannot_be_opened_names_the_path_and_the_reason(tmp_path):
    path = str(tmp_path / 'missing-dir' / 'ledger.jsonl')
    with pytest.raises(LedgerError) as caught:
        append_readings(path, [reading()])
    assert str(caught.value) == '%s cannot be opened: No such file or directory' % path


def test_a_directory_is_not_read_as_a_ledger(tmp_path):
    with pytest.raises(LedgerError) as caught:
        read_readings(str(tmp_path))
    assert str(caught.value) == '%s is a directory, not a regular file' % tmp_path


def test_a_file_system_without_locks_is_a_ledger_error_naming_the_path(tmp_path, monkeypatch):
    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))
    monkeypatch.setattr(_locking, 'fcntl', types.SimpleNamespace(flock=no_locks, LOCK_EX=fcntl.LOCK_EX, LOCK_SH=fcntl.LOCK_SH, LOCK_NB=fcntl.LOCK_NB))
    path = str(tmp_path / 'ledger.jsonl')
    with pytest.raises(LedgerError) as caught:
        append_readings(path, [reading()])
    assert str(caught.value) == '%s cannot be written: %s' % (path, os.strerror(errno.ENOLCK))
    with pytest.raises(LedgerError) as caught:
        read_readings(path)
    assert str(caught.value) == '%s cannot be read: %s' % (path, os.strerror(errno.ENOLCK))


def test_a_ledger_exactly_at_the_bound_is_left_whole(tmp_path, monkeypatch):
    path = tmp_path / 'ledger.jsonl'
    size = len(_ledger.ledger_line(reading())) * 2
    monkeypatch.setattr(_ledger, 'LEDGER_MAX_BYTES', size)
    monkeypatch.setattr(_ledger, 'LEDGER_KEEP_BYTES', size // 4)
    append_readings(str(path), [reading(), reading(run_id='run-2')])
    assert os.path.getsize(str(path)) == size
    assert len(read_readings(str(path))[0]) == 2


def test_a_tail_without_a_whole_line_is_dropped_entirely(tmp_path, monkeypatch):
    """A damaged ledger (no line ends in its newest bytes) is emptied rather than kept as a broken line."""
    monkeypatch.setattr(_ledger, 'LEDGER_MAX_BYTES', 2000)
    monkeypatch.setattr(_ledger, 'LEDGER_KEEP_BYTES', 1000)
    path = tmp_path / 'ledger.jsonl'
    path.write_text('x' * 3000)
    append_readings(str(path), [])
    assert path.read_bytes() == b''


def test_a_last_line_without_a_line_break_keeps_its_reading_and_the_new_ones(tmp_path):
    """A writer that died mid-way, or an edit by hand, leaves no line break: the next append starts a new line."""
    path = tmp_path / 'ledger.jsonl'
    path.write_bytes(json.dumps(reading(run_id='old')).encode('utf-8'))
    append_readings(str(path), [reading(run_id='new'), reading(run_id='new', event='end')])
    readings, warnings = read_readings(str(path))
    assert warnings == []
    assert [(item['run_id'], item['event']) for item in readings] == [('old', 'start'), ('new', 'start'), ('new', 'end')]
    assert path.read_bytes().count(b'\n') == 3


def test_a_ledger_ending_with_a_line_break_gets_no_empty_line(tmp_path):
    path = tmp_path / 'ledger.jsonl'
    append_readings(str(path), [reading()])
    append_readings(str(path), [reading(event='end')])
    assert b'\n\n' not in path.read_bytes()


@pytest.mark.usefixtures('time_limit')
def test_a_fifo_is_refused_at_once_for_writing_and_reading(tmp_path):
    fifo = tmp_path / 'ledger.jsonl'
    os.mkfifo(str(fifo))
    for use in (lambda: append_readings(str(fifo), [reading()]), lambda: read_readings(str(fifo))):
        with pytest.raises(LedgerError) as caught:
            use()
        assert str(caught.value) == '%s is a FIFO (named pipe), not a regular file' % fifo


@pytest.mark.usefixtures('time_limit')
def test_readers_share_the_lock_and_a_writer_waits_for_them(tmp_path):
    path = str(tmp_path / 'ledger.jsonl')
    append_readings(path, [reading()])
    reader = os.open(path, os.O_RDONLY)
    fcntl.flock(reader, fcntl.LOCK_SH)
    try:
        assert len(read_readings(path, lock_timeout=0.2)[0]) == 1
        with pytest.raises(LedgerError, match='stayed locked by another process for 0.2 s$'):
            append_readings(path, [reading(event='end')], lock_timeout=0.2)
    finally:
        os.close(reader)


@pytest.mark.usefixtures('time_limit')
@pytest.mark.parametrize('exclusive', [True, False])
def test_a_lock_held_past_the_timeout_refuses_instead_of_waiting(tmp_path, exclusive):
    path = str(tmp_path / 'ledger.jsonl')
    append_readings(path, [reading()])
    holder = os.open(path, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    started = time.monotonic()
    try:
        with pytest.raises(LedgerError) as caught:
            if exclusive:
                append_readings(path, [reading(event='end')], lock_timeout=0.3)
            else:
                read_readings(path, lock_timeout=0.3)
    finally:
        os.close(holder)
    assert 0.3 <= time.monotonic() - started < 3
    assert str(caught.value) == '%s stayed locked by another process for 0.3 s' % path
    assert len(read_readings(path)[0]) == 1


@pytest.mark.parametrize('credits', [float('nan'), float('inf'), float('-inf')])
def test_a_line_is_strict_json_or_not_written(credits):
    with pytest.raises(ValueError, match='Out of range float values are not JSON compliant'):
        _ledger.ledger_line(reading(credits=credits))


NOW = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.timezone.utc)


def test_times_with_offsets_or_without_a_zone_are_utc():
    assert parse_time('2026-03-10T12:00:00Z') == NOW
    assert parse_time('2026-03-10T13:00:00+01:00') == NOW
    assert parse_time('2026-03-10T12:00:00') == NOW
    assert parse_time(format_time(NOW)) == NOW
    with pytest.raises(ValueError):
        parse_time('yesterday')
    with pytest.raises(ValueError):
        parse_time(12)


def test_the_ledger_time_is_utc_whatever_the_local_zone(local_zone):
    local_zone('EST+05')
    assert format_time(NOW) == '2026-03-10T12:00:00.000000Z'
    assert format_time(datetime.datetime(2026, 3, 10, 13, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))) == (
        '2026-03-10T12:00:00.000000Z')


class StrictIsoDatetime(datetime.datetime):
    """``fromisoformat`` as Python 3.7 to 3.10 have it (the modules run there): no ``Z``."""

    @classmethod
    def fromisoformat(cls, date_string):
        if date_string.endswith(('Z', 'z')):
            raise ValueError('Invalid isoformat string: %r' % date_string)
        return datetime.datetime.fromisoformat(date_string)


def test_a_trailing_z_in_either_case_is_read_even_where_fromisoformat_does_not_know_it(monkeypatch):
    assert parse_time('2026-03-10T12:00:00z') == NOW
    monkeypatch.setattr(_ledger, 'datetime', types.SimpleNamespace(datetime=StrictIsoDatetime))
    assert parse_time('2026-03-10T12:00:00Z') == NOW
    assert parse_time('2026-03-10T12:00:00.000000z') == NOW


def test_a_time_that_is_not_a_string_says_so():
    with pytest.raises(ValueError, match='^time is not a string$'):
        parse_time(None)
