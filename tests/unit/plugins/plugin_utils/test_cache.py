# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The lookup's balance cache: privacy, freshness, damage tolerance and request coalescing."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import json
import multiprocessing
import os
import stat
import tempfile
import threading
import time

import pytest

from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityOptionError
from ansible_collections.stabilityai.platform.plugins.module_utils._private_dir import default_cache_dir
from ansible_collections.stabilityai.platform.plugins.module_utils._private_file import open_private_file
from ansible_collections.stabilityai.platform.plugins.plugin_utils import _cache
from ansible_collections.stabilityai.platform.plugins.plugin_utils._cache import (
    CLOCK_SKEW,
    BalanceCache,
    CacheUnavailable,
    clean_cache_scope,
    clean_cache_ttl,
)
from ansible_collections.stabilityai.platform.plugins.plugin_utils._playbook_run import RunUnknown
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import ConnectionSettings

KEY = 'sk-cache-test-key-0123456789'


def settings(**options):
    options.setdefault('api_key', KEY)
    return ConnectionSettings(**options)


def make_cache(directory, ttl=60.0, **options):
    return BalanceCache(str(directory), ttl, settings(**options), lock_timeout=5.0)


def write_private(path, content):
    """Plant ``content`` at ``path`` as the cache's own files are: 0600, so that only the content is on trial."""
    with os.fdopen(os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'wb') as handle:
        handle.write(content)


def every_file(directory):
    for root, dirs, files in os.walk(str(directory)):
        for name in files:
            yield os.path.join(root, name)


def test_a_miss_fetches_once_and_a_hit_does_not(tmp_path):
    cache = make_cache(tmp_path / 'c')
    calls = []

    def fetch(organization):
        calls.append(organization)
        return 42.5
    assert cache.get_or_fetch('org-a', fetch) == 42.5
    assert cache.get_or_fetch('org-a', fetch) == 42.5
    assert cache.get_or_fetch(None, fetch) == 42.5
    assert calls == ['org-a', None]


def test_directory_and_files_are_private_and_hold_no_key(tmp_path):
    directory = tmp_path / 'c'
    cache = make_cache(directory)
    cache.get_or_fetch('org-a', lambda organization: 1.25)
    assert stat.S_IMODE(os.stat(str(directory)).st_mode) == 0o700
    files = list(every_file(directory))
    assert len(files) == 3  # the secret, the entry and its lock
    for path in files:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(path, 'rb') as handle:
            content = handle.read()
        assert KEY.encode() not in content
        assert KEY not in os.path.basename(path)
    entries = [path for path in files if path.endswith('.json')]
    with open(entries[0]) as handle:
        entry = json.load(handle)
    assert sorted(entry) == ['credits', 'time'] and entry['credits'] == 1.25


@pytest.mark.parametrize('mode', [0o755, 0o750, 0o1777, 0o701])
def test_an_existing_directory_open_to_others_is_refused_and_left_as_it_is(tmp_path, mode):
    directory = tmp_path / 'shared'
    directory.mkdir()
    os.chmod(str(directory), mode)
    with pytest.raises(CacheUnavailable) as caught:
        make_cache(directory)
    assert 'is open to other users (mode %04o); it is left as it is' % mode in str(caught.value)
    assert stat.S_IMODE(os.stat(str(directory)).st_mode) == mode
    assert os.listdir(str(directory)) == [], 'nothing is written into it'


def test_a_missing_directory_is_created_0700_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        make_cache(tmp_path / 'new')
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(str(tmp_path / 'new')).st_mode) == 0o700


def entry_path(cache, which):
    return os.path.join(cache.directory, 'secret') if which == 'secret' else cache.entry_stem('org-a') + '.' + which


def use(cache, which):
    """What touches the file ``which``: a new cache over the directory for the secret, a read for the others."""
    if which == 'secret':
        return make_cache(cache.directory)
    return cache.get_or_fetch('org-a', lambda organization: 1.0)


@pytest.mark.parametrize('which', ['secret', 'json', 'lock'])
def test_a_planted_fifo_is_refused_without_blocking(tmp_path, which):
    cache = make_cache(tmp_path / 'c')
    path = entry_path(cache, which)
    if which == 'secret':
        os.unlink(path)
    os.mkfifo(path, 0o600)
    outcome = []

    def attempt():
        try:
            use(cache, which)
        except CacheUnavailable as exc:
            outcome.append(str(exc))
    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(5)
    if worker.is_alive():  # unblock the hung open before failing
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    assert not worker.is_alive(), 'opening the FIFO blocked'
    assert outcome == ['%s is a FIFO (named pipe), not a regular file' % path]


@pytest.mark.parametrize('which', ['secret', 'json', 'lock'])
def test_a_file_open_to_others_is_refused(tmp_path, which):
    cache = make_cache(tmp_path / 'c')
    cache.get_or_fetch('org-a', lambda organization: 1.0)
    cache.ttl = 0  # the entry must be read, not only its freshness judged
    os.chmod(entry_path(cache, which), 0o644)
    with pytest.raises(CacheUnavailable) as caught:
        use(cache, which)
    assert 'is open to other users (mode 0644)' in str(caught.value)


@pytest.mark.parametrize('which', ['secret', 'json', 'lock'])
def test_a_file_of_another_user_is_refused(tmp_path, monkeypatch, which):
    cache = make_cache(tmp_path / 'c')
    cache.get_or_fetch('org-a', lambda organization: 1.0)
    cache.ttl = 0
    planted = os.stat(entry_path(cache, which)).st_ino
    real_fstat = os.fstat

    def fstat(fd):
        info = real_fstat(fd)
        if info.st_ino != planted:
            return info
        fields = list(info)
        fields[stat.ST_UID] += 1
        return os.stat_result(fields)
    monkeypatch.setattr(os, 'fstat', fstat)
    with pytest.raises(CacheUnavailable) as caught:
        use(cache, which)
    assert str(caught.value) == '%s belongs to another user' % entry_path(cache, which)


def test_a_planted_symlink_entry_is_refused_and_neither_read_nor_replaced(tmp_path):
    cache = make_cache(tmp_path / 'c')
    stem = cache.entry_stem('org-a')
    target = tmp_path / 'elsewhere.json'
    planted = u'{"credits": 1000000, "time": %f}' % time.time()
    target.write_text(planted)
    os.symlink(str(target), stem + '.json')
    with pytest.raises(CacheUnavailable) as caught:
        cache.read(stem)
    assert str(caught.value) == '%s.json is a symbolic link (it is not followed), not a regular file' % stem
    with pytest.raises(CacheUnavailable):
        cache.get_or_fetch('org-a', lambda organization: pytest.fail('a refused cache must not fetch'))
    assert os.path.islink(stem + '.json') and target.read_text() == planted


def test_a_directory_of_another_user_is_refused(tmp_path, monkeypatch):
    directory = tmp_path / 'c'
    directory.mkdir(mode=0o700)
    monkeypatch.setattr(os, 'geteuid', lambda: os.stat(str(directory)).st_uid + 1)
    with pytest.raises(CacheUnavailable) as caught:
        make_cache(directory)
    assert str(caught.value) == '%s belongs to another user' % directory


def test_a_file_in_place_of_the_directory_is_refused(tmp_path):
    path = tmp_path / 'c'
    path.write_text(u'')
    with pytest.raises(CacheUnavailable) as caught:
        make_cache(path)
    assert str(caught.value) == '%s is a regular file, not a directory' % path


def test_a_planted_symlink_lock_is_refused(tmp_path):
    cache = make_cache(tmp_path / 'c')
    target = tmp_path / 'elsewhere'
    os.symlink(str(target), cache.entry_stem('org-a') + '.lock')
    with pytest.raises(CacheUnavailable):
        cache.get_or_fetch('org-a', lambda organization: 1.0)
    assert not target.exists()


def test_entries_differ_by_url_version_organization_and_key(tmp_path):
    directory = tmp_path / 'c'
    base = make_cache(directory)
    paths = set([
        base.entry_stem('org-a'),
        base.entry_stem('org-b'),
        base.entry_stem(None),
        make_cache(directory, api_key='sk-another-key').entry_stem('org-a'),
        make_cache(directory, api_version='v1alpha').entry_stem('org-a'),
        make_cache(directory, api_url='http://127.0.0.1:9').entry_stem('org-a'),
    ])
    assert len(paths) == 6
    assert make_cache(directory).entry_stem('org-a') == base.entry_stem('org-a')


def test_an_expired_entry_is_fetched_again(tmp_path):
    cache = make_cache(tmp_path / 'c', ttl=1.0)
    path = cache.entry_stem('org-a')
    cache.write(path, 5.0)
    assert cache.read(path) == 5.0
    assert cache.read(path, now=time.time() + 1.5) is None


# Times are filled in when the test runs, not when it is collected: pytest-xdist workers must
# collect the same test ids.
@pytest.mark.parametrize('content', [
    b'',
    b'not json',
    b'{"credits": "5", "time": 1}',
    b'{"credits": 5}',
    b'{"credits": NaN, "time": NOW}',
    b'{"credits": 5, "time": IN_AN_HOUR}',
    b'[1, 2]',
    b'\xff\xfe',
])
def test_damaged_or_future_entries_are_ignored_and_replaced(tmp_path, content):
    now = int(time.time())
    content = content.replace(b'IN_AN_HOUR', b'%d' % (now + 3600)).replace(b'NOW', b'%d' % now)
    cache = make_cache(tmp_path / 'c')
    path = cache.entry_stem('org-a')
    write_private(path + '.json', content)
    assert cache.get_or_fetch('org-a', lambda organization: 7.0) == 7.0
    assert cache.read(path) == 7.0


def test_a_negative_balance_is_stored_and_served_like_any_other(tmp_path):
    cache = make_cache(tmp_path / 'c')
    assert cache.get_or_fetch('org-a', lambda organization: -12.5) == -12.5
    assert cache.get_or_fetch('org-a', lambda organization: pytest.fail('a fresh negative entry must be served')) == -12.5


def test_a_failed_fetch_stores_nothing(tmp_path):
    cache = make_cache(tmp_path / 'c')

    def failing(organization):
        raise RuntimeError('API down')
    with pytest.raises(RuntimeError):
        cache.get_or_fetch('org-a', failing)
    assert cache.get_or_fetch('org-a', lambda organization: 3.0) == 3.0


def test_a_damaged_secret_is_reported(tmp_path):
    directory = tmp_path / 'c'
    make_cache(directory)
    with open(str(directory / 'secret'), 'wb') as handle:
        handle.write(b'short')
    with pytest.raises(CacheUnavailable) as caught:
        make_cache(directory)
    assert str(caught.value) == '%s is damaged; remove it' % (directory / 'secret')


def test_default_directory_follows_xdg(monkeypatch):
    monkeypatch.setenv('XDG_CACHE_HOME', '/somewhere/cache')
    assert default_cache_dir() == '/somewhere/cache/stabilityai.platform'
    monkeypatch.delenv('XDG_CACHE_HOME')
    assert default_cache_dir() == os.path.expanduser('~/.cache/stabilityai.platform')


def _worker(directory, counter, start):
    """One forked worker: wait for the start signal, then read through the cache."""
    cache = BalanceCache(directory, 60.0, settings(), lock_timeout=10.0)

    def fetch(organization):
        with counter.get_lock():
            counter.value += 1
        time.sleep(0.3)  # a slow API round trip, so that the others pile up behind the lock
        return 99.5
    start.wait()
    assert cache.get_or_fetch('org-a', fetch) == 99.5


def test_concurrent_misses_in_forked_workers_make_one_fetch(tmp_path):
    context = multiprocessing.get_context('fork')
    counter = context.Value('i', 0)
    start = context.Event()
    workers = [context.Process(target=_worker, args=(str(tmp_path / 'c'), counter, start)) for dummy in range(12)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(30)
    assert [worker.exitcode for worker in workers] == [0] * 12
    assert counter.value == 1


@pytest.mark.parametrize('credits', [0, 0.0, 0.5, 0.999])
def test_a_balance_below_one_is_served_from_the_cache(tmp_path, credits):
    cache = make_cache(tmp_path / 'c')
    calls = []

    def fetch(organization):
        calls.append(organization)
        return credits
    assert cache.get_or_fetch('org-empty', fetch) == credits
    assert cache.get_or_fetch('org-empty', fetch) == credits
    assert calls == ['org-empty']


def test_an_entry_is_fresh_until_its_ttl_and_within_the_clock_skew(tmp_path):
    cache = make_cache(tmp_path / 'c', ttl=10.0)
    stem = cache.entry_stem('org-a')
    write_private(stem + '.json', b'{"credits": 4, "time": 1000.0}')
    assert cache.read(stem, now=1009.9) == 4.0
    assert isinstance(cache.read(stem, now=1009.9), float)
    assert cache.read(stem, now=1010.0) is None
    assert cache.read(stem, now=1000.0 - CLOCK_SKEW) == 4.0
    assert cache.read(stem, now=1000.0 - CLOCK_SKEW - 0.1) is None


def test_a_symlinked_secret_is_refused(tmp_path):
    directory = tmp_path / 'c'
    directory.mkdir(mode=0o700)
    planted = tmp_path / 'planted-secret'
    planted.write_bytes(b's' * 32)
    os.symlink(str(planted), str(directory / 'secret'))
    with pytest.raises(CacheUnavailable) as caught:
        make_cache(directory)
    assert str(caught.value) == '%s is a symbolic link (it is not followed), not a regular file' % (directory / 'secret')


def test_a_directory_in_place_of_the_secret_is_refused(tmp_path):
    directory = tmp_path / 'c'
    directory.mkdir(mode=0o700)
    (directory / 'secret').mkdir(mode=0o700)
    with pytest.raises(CacheUnavailable) as caught:
        make_cache(directory)
    assert str(caught.value) == '%s is a directory, not a regular file' % (directory / 'secret')


@pytest.mark.parametrize('creating, error, message', [
    (True, errno.ENOSPC, '%s cannot be opened: No space left on device'),
    (False, errno.EACCES, '%s cannot be opened: Permission denied'),
])
def test_a_secret_that_cannot_be_created_or_read_is_reported(tmp_path, monkeypatch, creating, error, message):
    directory = tmp_path / 'c'
    directory.mkdir(mode=0o700)
    if not creating:
        make_cache(directory)  # the secret exists: only reading it can fail
    real_open = os.open

    def refusing_open(path, flags, *args):
        if bool(flags & os.O_CREAT) == creating:
            raise OSError(error, os.strerror(error))
        return real_open(path, flags, *args)
    monkeypatch.setattr(os, 'open', refusing_open)
    with pytest.raises(CacheUnavailable) as caught:
        make_cache(directory)
    assert str(caught.value) == message % (directory / 'secret')


def test_the_secret_is_created_once_and_kept(tmp_path):
    directory = tmp_path / 'c'
    make_cache(directory)
    with open(str(directory / 'secret'), 'rb') as handle:
        secret = handle.read()
    assert len(secret) == 32
    make_cache(directory)
    with open(str(directory / 'secret'), 'rb') as handle:
        assert handle.read() == secret
    assert stat.S_IMODE(os.stat(str(directory / 'secret')).st_mode) == 0o600


def test_a_secret_still_being_written_is_waited_for(tmp_path, monkeypatch):
    directory = tmp_path / 'c'
    directory.mkdir(mode=0o700)
    secret = directory / 'secret'
    secret.write_bytes(b'')
    os.chmod(str(secret), 0o600)

    def finish_writing(seconds):
        secret.write_bytes(b'k' * 32)
    monkeypatch.setattr(time, 'sleep', finish_writing)
    assert make_cache(directory)._secret == b'k' * 32


def test_a_cache_directory_that_cannot_be_created_is_reported(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text(u'')
    with pytest.raises(CacheUnavailable) as caught:
        make_cache(blocker / 'c')
    assert str(caught.value) == 'cannot create the directory %s: Not a directory' % (blocker / 'c')


def test_a_failed_write_leaves_no_temporary_file_and_costs_only_a_request(tmp_path, monkeypatch):
    cache = make_cache(tmp_path / 'c')
    stem = cache.entry_stem('org-a')

    def failing_replace(source, destination):
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(os, 'replace', failing_replace)
    assert cache.get_or_fetch('org-a', lambda organization: 6.0) == 6.0
    assert [name for name in os.listdir(str(tmp_path / 'c')) if name.startswith('.tmp-')] == []
    assert not os.path.exists(stem + '.json')


def test_a_directory_in_place_of_an_entry_is_refused(tmp_path):
    cache = make_cache(tmp_path / 'c')
    stem = cache.entry_stem('org-a')
    os.mkdir(stem + '.json', 0o700)
    with pytest.raises(CacheUnavailable) as caught:
        cache.get_or_fetch('org-a', lambda organization: pytest.fail('a refused cache must not fetch'))
    assert str(caught.value) == '%s.json is a directory, not a regular file' % stem


def test_an_entry_lock_that_cannot_be_opened_is_reported(tmp_path):
    cache = make_cache(tmp_path / 'c')
    os.mkdir(cache.entry_stem('org-a') + '.lock')
    with pytest.raises(CacheUnavailable) as caught:
        cache.get_or_fetch('org-a', lambda organization: 1.0)
    assert str(caught.value) == '%s.lock is a directory, not a regular file' % cache.entry_stem('org-a')


def test_a_miss_waits_for_the_holder_of_the_lock_and_reads_what_it_stored(tmp_path):
    """test_concurrent_misses_in_forked_workers_make_one_fetch in one process, so that mutation testing sees the code it runs."""
    cache = make_cache(tmp_path / 'c')
    stem = cache.entry_stem('org-a')
    holder = open_private_file(stem + '.lock', os.O_RDWR, ours=True)
    fcntl.flock(holder, fcntl.LOCK_EX)
    fetched = []
    answer = []
    waiter = threading.Thread(target=lambda: answer.append(cache.get_or_fetch('org-a', fetched.append)))
    waiter.start()
    time.sleep(0.2)
    assert answer == []  # still waiting for the lock
    cache.write(stem, 12.5)
    os.close(holder)
    waiter.join(5)
    assert answer == [12.5] and fetched == []


def test_a_lock_held_past_the_lock_timeout_is_given_up_and_the_miss_fetches(tmp_path):
    cache = BalanceCache(str(tmp_path / 'c'), 60.0, settings(), lock_timeout=0.2)
    holder = open_private_file(cache.entry_stem('org-a') + '.lock', os.O_RDWR, ours=True)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        started = time.monotonic()
        assert cache.get_or_fetch('org-a', lambda organization: 8.0) == 8.0
        assert 0.2 <= time.monotonic() - started < 3
    finally:
        os.close(holder)


def test_a_lock_that_fails_otherwise_is_reported(tmp_path, monkeypatch):
    cache = make_cache(tmp_path / 'c')

    def broken_flock(fd, operation):
        raise OSError(errno.ENOLCK, 'No locks available')
    monkeypatch.setattr(fcntl, 'flock', broken_flock)
    with pytest.raises(CacheUnavailable) as caught:
        cache.get_or_fetch('org-a', lambda organization: 1.0)
    assert str(caught.value) == 'cannot lock the cache entry: No locks available'


@pytest.mark.parametrize('value, expected', [(0, 0.0), ('30', 30.0), (0.5, 0.5)])
def test_cache_ttl_accepts_zero_and_more(value, expected):
    assert clean_cache_ttl(value) == expected


@pytest.mark.parametrize('value', [-0.1, 'inf', float('nan'), True, False, None, 'soon', 10 ** 400])
def test_cache_ttl_refuses_negative_infinite_boolean_and_words(value):
    with pytest.raises(StabilityOptionError) as caught:
        clean_cache_ttl(value)
    assert caught.value.msg == 'cache_ttl must be a number of seconds, 0 or more (0 turns the cache off), got %r' % (value,)


def test_a_hit_never_waits_for_a_fetch_in_progress(tmp_path):
    cache = BalanceCache(str(tmp_path / 'c'), 60.0, settings(), lock_timeout=5.0)
    stem = cache.entry_stem('org-a')
    cache.write(stem, 3.5)
    holder = open_private_file(stem + '.lock', os.O_RDWR, ours=True)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another process is fetching this entry
    try:
        started = time.monotonic()
        assert cache.get_or_fetch('org-a', lambda organization: 99.0) == 3.5
        assert time.monotonic() - started < 2.0
    finally:
        os.close(holder)


def test_an_entry_larger_than_any_we_write_is_a_miss(tmp_path):
    cache = make_cache(tmp_path / 'c')
    stem = cache.entry_stem('org-a')
    write_private(stem + '.json', json.dumps({'credits': 5, 'time': time.time(), 'padding': 'x' * 5000}).encode('utf-8'))
    assert cache.read(stem) is None


def test_a_directory_where_no_temporary_file_can_be_made_costs_only_a_request(tmp_path, monkeypatch):
    cache = make_cache(tmp_path / 'c')

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(tempfile, 'mkstemp', no_space)
    assert cache.get_or_fetch('org-a', lambda organization: 4.0) == 4.0
    assert cache.read(cache.entry_stem('org-a')) is None


@pytest.mark.parametrize('size, hit', [(4096, True), (4097, False)])
def test_an_entry_is_read_up_to_4096_bytes(tmp_path, size, hit):
    cache = make_cache(tmp_path / 'c')
    stem = cache.entry_stem('org-a')
    entry = {'credits': 5, 'time': time.time(), 'note': ''}
    entry['note'] = 'x' * (size - len(json.dumps(entry)))
    write_private(stem + '.json', json.dumps(entry).encode('utf-8'))
    assert os.path.getsize(stem + '.json') == size
    assert cache.read(stem) == (5.0 if hit else None)


def test_a_holder_that_hangs_after_storing_is_given_up_on_and_what_it_stored_is_used(tmp_path):
    cache = BalanceCache(str(tmp_path / 'c'), 60.0, settings(), lock_timeout=0.5)
    stem = cache.entry_stem('org-a')
    holder = open_private_file(stem + '.lock', os.O_RDWR, ours=True)
    fcntl.flock(holder, fcntl.LOCK_EX)
    fetched, answer = [], []
    waiter = threading.Thread(target=lambda: answer.append(cache.get_or_fetch('org-a', fetched.append)))
    try:
        waiter.start()
        time.sleep(0.1)
        cache.write(stem, 12.5)  # and then the holder never lets go of the lock
        waiter.join(10)
    finally:
        os.close(holder)
    assert answer == [12.5] and fetched == []


def test_the_temporary_file_is_made_in_the_cache_directory(tmp_path, monkeypatch):
    """Never in the system's temporary directory: os.replace cannot move it across file systems."""
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path / 'no-such-directory'))
    cache = make_cache(tmp_path / 'c')
    cache.write(cache.entry_stem('org-a'), 2.5)
    assert cache.read(cache.entry_stem('org-a')) == 2.5


# --- one run, or every run of the user (cache_scope) ------------------------------------------

def test_a_later_run_never_reads_an_earlier_run_s_entry_and_forks_of_one_run_do(tmp_path, monkeypatch):
    run = ['boot/100/5000']
    monkeypatch.setattr(_cache, 'run_identity', lambda: run[0])
    calls = []

    def fetch(organization):
        calls.append(run[0])
        return float(len(calls))
    assert make_cache(tmp_path / 'c').get_or_fetch('org-a', fetch) == 1.0
    assert make_cache(tmp_path / 'c').get_or_fetch('org-a', fetch) == 1.0  # another fork of the same run
    run[0] = 'boot/101/5100'  # the next ansible-playbook, a second later
    assert make_cache(tmp_path / 'c').get_or_fetch('org-a', fetch) == 2.0
    run[0] = 'boot/100/5200'  # a later run that got the first one's process id
    assert make_cache(tmp_path / 'c').get_or_fetch('org-a', fetch) == 3.0
    assert calls == ['boot/100/5000', 'boot/101/5100', 'boot/100/5200']


def test_scope_user_shares_an_entry_between_runs(tmp_path, monkeypatch):
    run = ['boot/100/5000']
    monkeypatch.setattr(_cache, 'run_identity', lambda: run[0])
    calls = []
    cache = BalanceCache(str(tmp_path / 'c'), 60.0, settings(), 5.0, 'user')
    assert cache.get_or_fetch('org-a', lambda organization: calls.append(1) or 4.0) == 4.0
    run[0] = 'boot/101/5100'
    again = BalanceCache(str(tmp_path / 'c'), 60.0, settings(), 5.0, 'user')
    assert again.get_or_fetch('org-a', lambda organization: calls.append(2) or 5.0) == 4.0
    assert calls == [1]
    assert make_cache(tmp_path / 'c').get_or_fetch('org-a', lambda organization: 6.0) == 6.0  # scope run reads no user entry


def test_a_run_that_cannot_be_told_from_another_makes_the_cache_unavailable_in_one_line(tmp_path, monkeypatch):
    def unknown():
        raise RunUnknown('/proc cannot tell one ansible-playbook run from another (no such file)')
    monkeypatch.setattr(_cache, 'run_identity', unknown)
    with pytest.raises(CacheUnavailable) as caught:
        make_cache(tmp_path / 'c')
    assert str(caught.value) == ('/proc cannot tell one ansible-playbook run from another (no such file); '
                                 'cache_scope=user would share readings between runs')
    assert BalanceCache(str(tmp_path / 'c'), 60.0, settings(), 5.0, 'user').ttl == 60.0  # the other scope does not ask


def test_the_run_is_part_of_the_keyed_name_and_never_on_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(_cache, 'run_identity', lambda: 'boot-id-xyz/4242/777777')
    cache = make_cache(tmp_path / 'c')
    cache.get_or_fetch('org-a', lambda organization: 3.0)
    for path in every_file(tmp_path / 'c'):
        with open(path, 'rb') as handle:
            content = handle.read()
        assert b'4242' not in content and b'777777' not in content and b'boot-id' not in content
        assert '4242' not in path and KEY not in path


@pytest.mark.parametrize('value', ['run', 'user'])
def test_cache_scope_accepts_run_and_user(value):
    assert clean_cache_scope(value) == value


@pytest.mark.parametrize('value', ['RUN', ' user', 'playbook', '', None, True, ['run']])
def test_cache_scope_refuses_anything_else_in_one_line(value):
    with pytest.raises(StabilityOptionError) as caught:
        clean_cache_scope(value)
    assert caught.value.msg == 'cache_scope must be run or user, got %r' % (value,)


# --- tidying: earlier runs' entries go ------------------------------------------------------

def age(path, seconds):
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_entries_nobody_wrote_for_a_day_go_with_their_locks_and_nothing_else_does(tmp_path, monkeypatch):
    directory = tmp_path / 'c'
    runs = iter(['boot/1/1', 'boot/2/2', 'boot/3/3'])
    monkeypatch.setattr(_cache, 'run_identity', lambda: next(runs))
    old, young = make_cache(directory), make_cache(directory)
    for cache in (old, young):
        cache.get_or_fetch('org-a', lambda organization: 1.0)
    old_stem, young_stem = old.entry_stem('org-a'), young.entry_stem('org-a')
    age(old_stem + '.json', _cache.PRUNE_AFTER + 60)
    age(old_stem + '.lock', _cache.PRUNE_AFTER + 60)
    age(young_stem + '.lock', _cache.PRUNE_AFTER + 60)  # an old lock of an entry still written to: kept with it
    write_private(directory / ('rate-' + 'a' * 64), b'{}')
    age(str(directory / ('rate-' + 'a' * 64)), 10 * _cache.PRUNE_AFTER)
    age(str(directory / 'secret'), 10 * _cache.PRUNE_AFTER)
    make_cache(directory).get_or_fetch('org-b', lambda organization: 2.0)  # a miss that writes tidies up
    names = sorted(os.listdir(str(directory)))
    assert os.path.basename(old_stem) + '.json' not in names and os.path.basename(old_stem) + '.lock' not in names
    assert os.path.basename(young_stem) + '.json' in names and os.path.basename(young_stem) + '.lock' in names
    assert 'secret' in names and 'rate-' + 'a' * 64 in names
    assert len(names) == 2 + 2 + 2  # young entry, org-b's entry, secret, rate state


def test_an_entry_younger_than_a_long_ttl_is_kept(tmp_path):
    cache = BalanceCache(str(tmp_path / 'c'), 3 * _cache.PRUNE_AFTER, settings(), 5.0, 'user')
    cache.get_or_fetch('org-a', lambda organization: 1.0)
    stem = cache.entry_stem('org-a')
    age(stem + '.json', 2 * _cache.PRUNE_AFTER)
    age(stem + '.lock', 2 * _cache.PRUNE_AFTER)
    cache.prune()
    assert os.path.exists(stem + '.json')
    cache.prune(now=time.time() + 1.5 * _cache.PRUNE_AFTER)
    assert not os.path.exists(stem + '.json') and not os.path.exists(stem + '.lock')


def test_a_lock_without_an_entry_goes_when_old(tmp_path):
    """What a failed fetch leaves behind."""
    cache = make_cache(tmp_path / 'c')
    stem = cache.entry_stem('org-a')
    os.close(open_private_file(stem + '.lock', os.O_RDWR, ours=True))
    cache.prune(now=time.time() + _cache.PRUNE_AFTER - 60)
    assert os.path.exists(stem + '.lock')
    cache.prune(now=time.time() + _cache.PRUNE_AFTER + 60)
    assert not os.path.exists(stem + '.lock')


def test_a_directory_that_cannot_be_listed_is_not_tidied_and_the_read_still_works(tmp_path, monkeypatch):
    cache = make_cache(tmp_path / 'c')

    def unreadable(path):
        raise OSError(13, 'Permission denied')
    monkeypatch.setattr(_cache.os, 'scandir', unreadable)
    assert cache.get_or_fetch('org-a', lambda organization: 7.0) == 7.0
    assert cache.get_or_fetch('org-a', lambda organization: 8.0) == 7.0
