# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one opener of files by path: only a regular file is used, and nothing in its place blocks.

Tests that open FIFOs run under the ``time_limit`` fixture (tests/unit/conftest.py), so a
regression that blocks fails in seconds instead of hanging the run.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import os
import socket
import stat

import pytest

from ansible_collections.stabilityai.platform.plugins.module_utils import _private_file
from ansible_collections.stabilityai.platform.plugins.module_utils._private_file import UnusableFile, open_private_file, write_all

pytestmark = pytest.mark.usefixtures('time_limit')


def refusal(path, flags, **kwargs):
    with pytest.raises(UnusableFile) as caught:
        open_private_file(str(path), flags, **kwargs)
    return caught.value


def test_a_missing_file_is_created_0600_and_handed_back_blocking(tmp_path):
    path = tmp_path / 'ledger.jsonl'
    fd = open_private_file(str(path), os.O_WRONLY)
    try:
        assert not fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK
        assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    finally:
        os.close(fd)
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600


def test_a_missing_file_is_not_created_when_asked_not_to(tmp_path):
    caught = refusal(tmp_path / 'absent', os.O_RDONLY, create=False)
    assert caught.errno == errno.ENOENT
    assert str(caught) == '%s cannot be opened: No such file or directory' % (tmp_path / 'absent')
    assert not (tmp_path / 'absent').exists()


@pytest.mark.parametrize('flags', [os.O_RDONLY, os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_APPEND])
def test_a_fifo_without_a_reader_or_writer_is_refused_at_once(tmp_path, flags):
    fifo = tmp_path / 'pipe'
    os.mkfifo(str(fifo))
    assert str(refusal(fifo, flags)) == '%s is a FIFO (named pipe), not a regular file' % fifo


def test_a_fifo_with_a_reader_is_refused_too(tmp_path):
    fifo = tmp_path / 'pipe'
    os.mkfifo(str(fifo))
    reader = os.open(str(fifo), os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert str(refusal(fifo, os.O_WRONLY)) == '%s is a FIFO (named pipe), not a regular file' % fifo
    finally:
        os.close(reader)


@pytest.mark.parametrize('flags', [os.O_RDONLY, os.O_WRONLY, os.O_RDWR])
def test_a_directory_is_refused(tmp_path, flags):
    assert str(refusal(tmp_path, flags, create=flags != os.O_RDONLY)) == '%s is a directory, not a regular file' % tmp_path


def test_a_device_is_refused_before_anything_is_written_to_it():
    assert str(refusal('/dev/full', os.O_WRONLY)) == '/dev/full is a character device, not a regular file'


def test_a_socket_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = 'sock'  # relative: an AF_UNIX path holds 107 bytes at most, and tmp_path may be longer
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(path)
        assert str(refusal(path, os.O_WRONLY)) == '%s is a socket, not a regular file' % path
    finally:
        server.close()


@pytest.mark.parametrize('target_exists', [True, False])
def test_a_symbolic_link_is_never_followed(tmp_path, target_exists):
    target = tmp_path / 'target'
    if target_exists:
        target.write_text(u'keep\n')
    link = tmp_path / 'link'
    link.symlink_to(target)
    assert str(refusal(link, os.O_WRONLY)) == '%s is a symbolic link (it is not followed), not a regular file' % link
    assert (target.read_text() == u'keep\n') if target_exists else not target.exists()


def test_a_file_of_ours_must_not_be_open_to_others(tmp_path):
    path = tmp_path / 'state'
    path.write_text(u'')
    os.chmod(str(path), 0o644)
    os.close(open_private_file(str(path), os.O_RDONLY))  # without ours=True: any regular file
    assert str(refusal(path, os.O_RDONLY, ours=True)) == '%s is open to other users (mode 0644)' % path


def test_a_file_of_ours_must_belong_to_us(tmp_path, monkeypatch):
    path = tmp_path / 'state'
    path.write_text(u'')
    os.chmod(str(path), 0o600)
    monkeypatch.setattr(_private_file.os, 'geteuid', lambda: os.stat(str(path)).st_uid + 1)
    assert str(refusal(path, os.O_RDONLY, ours=True)) == '%s belongs to another user' % path


def test_a_refused_descriptor_is_closed(tmp_path):
    before = len(os.listdir('/proc/self/fd'))
    for dummy in range(5):
        refusal(tmp_path, os.O_RDONLY, create=False)
    assert len(os.listdir('/proc/self/fd')) == before


def test_write_all_goes_on_after_a_short_write(tmp_path, monkeypatch):
    fd = open_private_file(str(tmp_path / 'out'), os.O_WRONLY)
    real_write = os.write
    monkeypatch.setattr(_private_file.os, 'write', lambda fd, data: real_write(fd, bytes(data[:3])))
    try:
        write_all(fd, b'0123456789')
    finally:
        os.close(fd)
    assert (tmp_path / 'out').read_bytes() == b'0123456789'


def test_write_all_stops_when_nothing_more_can_be_written(tmp_path, monkeypatch):
    fd = open_private_file(str(tmp_path / 'out'), os.O_WRONLY)
    monkeypatch.setattr(_private_file.os, 'write', lambda fd, data: 0)
    try:
        with pytest.raises(OSError) as caught:
            write_all(fd, b'data')
    finally:
        os.close(fd)
    assert (caught.value.errno, caught.value.strerror) == (errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize('case, code', [
    ('fifo for writing', errno.ENXIO),  # os.open fails, lstat says why
    ('fifo for reading', errno.EINVAL),  # os.open succeeds, fstat refuses
    ('link', errno.ELOOP),
    ('another user', errno.EPERM),
    ('open to others', errno.EPERM),
])
def test_a_refusal_keeps_a_code_that_says_why(tmp_path, monkeypatch, case, code):
    path = tmp_path / 'file'
    flags, ours = os.O_RDONLY, False
    if case.startswith('fifo'):
        os.mkfifo(str(path))
        flags = os.O_WRONLY if case == 'fifo for writing' else os.O_RDONLY
    elif case == 'link':
        path.symlink_to(tmp_path / 'elsewhere')
    else:
        path.write_text(u'')
        os.chmod(str(path), 0o644 if case == 'open to others' else 0o600)
        ours = True
        if case == 'another user':
            monkeypatch.setattr(_private_file.os, 'geteuid', lambda: os.stat(str(path)).st_uid + 1)
    assert refusal(path, flags, ours=ours).errno == code


def test_a_kind_of_file_without_a_name_is_still_described():
    assert _private_file.kind_of(0) == 'of unknown type'
    assert _private_file.kind_of(stat.S_IFREG | 0o600) == 'a regular file'
