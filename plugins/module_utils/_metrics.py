# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""Credit readings as Prometheus metrics: a file for node_exporter's textfile collector, and a push to a Pushgateway.

The ``stability_balance_info`` module writes the file on the host it runs on; the ``credit_recap``
callback writes it and pushes on the controller.  The Prometheus project's own client
(``prometheus-client``, optional) writes the format and escapes label values; it is imported only
when a metrics option is set (``load_client``), so a call without one never pays for it.  Nothing
here changes a play's outcome: a file that cannot be written or a Pushgateway that cannot be reached
raises ``MetricsError``, which callers turn into one warning naming the option.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import collections
import os
import re
import ssl
import stat
import tempfile

from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityError, StabilityOptionError, one_line, redact, server_data
from ansible_collections.stabilityai.platform.plugins.module_utils._private_file import kind_of
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import (
    _HOST_AND_PORT,
    clean_path_text,
    is_loopback_as_written,
    split_url,
)

from urllib.parse import urlsplit

PACKAGE = 'prometheus-client'
JOB = 'stabilityai_platform'
LABELS = ('organization_id', 'organization_name')
# The gauges, in the order the file lists them: {key of a reading: (metric name, help)}.
GAUGES = {
    'credits': ('stability_credits', 'Credits left in the organization (1 credit = US$0.01).'),
    'spent': ('stability_run_spent_credits', 'Credits the organization spent during the last playbook run (before minus after).'),
    'days_left': ('stability_runway_days_left', 'Days the credits last at the spend rate of the last 7 days in the ledger.'),
    'runs_left': ('stability_runway_runs_left', 'Runs the credits cover at the spend per run of the last 7 days in the ledger.'),
    'time': ('stability_last_reading_timestamp_seconds', 'When the credits were read, in seconds since the epoch.'),
}
PUSH_TIMEOUT = 10.0
USERNAME_ENV = 'STABILITY_PUSHGATEWAY_USERNAME'
PASSWORD_ENV = 'STABILITY_PUSHGATEWAY_PASSWORD'
_LABEL_NAME = re.compile(r'^[a-zA-Z_][a-zA-Z0-9_]*$')
_RESERVED_LABELS = ('job',) + LABELS


class MetricsError(StabilityError):
    """Metrics could not be written or pushed; ``msg`` is one line that starts with the option."""


def load_client(option):
    """The ``prometheus_client`` package, imported now; MetricsError naming ``option`` and the pip package if missing."""
    try:
        import prometheus_client  # pylint: disable=import-outside-toplevel  # optional, and costly to import for every call
    except ImportError:
        raise MetricsError('%s needs the Python library %s (pip install %s); no metrics were written' % (option, PACKAGE, PACKAGE))
    return prometheus_client


def _label(value, secret):
    """A label value: the text as the collection hands server data on (``server_data``: no key, no
    control character, so a reader that splits lines on CR sees one sample), escaped by the client
    library, always encodable."""
    text = '' if value is None else server_data('%s' % (value,), secret)
    return text.encode(errors='replace').decode()


def registry_of(client, readings, secret=None):
    """A ``CollectorRegistry`` holding the metrics of ``readings``.

    Each reading is a dict with ``organization_id`` and ``organization_name`` (None: unknown, an
    empty label), ``credits`` and ``time`` (seconds since the epoch), and, when known, ``spent``,
    ``days_left`` and ``runs_left``; a gauge without a value for an organization has no sample for it.
    """
    registry = client.CollectorRegistry()
    gauges = [(client.Gauge(name, text, LABELS, registry=registry), key) for key, (name, text) in GAUGES.items()]
    for reading in readings:
        labels = [_label(reading.get(name), secret) for name in LABELS]
        for gauge, key in gauges:
            if reading.get(key) is not None:
                gauge.labels(*labels).set(reading[key])
    return registry


def runway_fields(forecast):
    """``days_left`` and ``runs_left`` of a runway forecast (None when there is none)."""
    forecast = forecast or {}
    return dict(days_left=forecast.get('days_left'), runs_left=forecast.get('runs_left'))


def clean_metrics_path(value):
    """``metrics_path``: None (not set) or the path, ``~`` expanded."""
    path = clean_path_text('metrics_path', value)
    return None if path is None else os.path.expanduser(path)


def write_textfile(path, data):
    """Replace the file at ``path`` with ``data``, atomically and mode 0644 (node_exporter reads it as another user).

    The data goes to a new temporary file in the same directory (created exclusively, so nothing
    planted is followed) and is renamed over ``path``: a reader sees the old file or the new one,
    never half of one.  ``path`` must be a regular file or absent.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise MetricsError('metrics_path: cannot use %s: %s' % (path, exc.strerror))
    if mode is not None and not stat.S_ISREG(mode):
        raise MetricsError('metrics_path: %s is %s, not a regular file; no metrics were written' % (path, kind_of(mode)))
    directory, name = os.path.split(path)
    try:
        fd, temporary = tempfile.mkstemp(prefix='.%s.' % name, suffix='.tmp', dir=directory or '.')
    except OSError as exc:
        raise MetricsError('metrics_path: cannot write %s: %s' % (path, exc.strerror))
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), 0o644)
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        os.unlink(temporary)
        raise MetricsError('metrics_path: cannot write %s: %s' % (path, exc.strerror))


def write_metrics_file(client, path, readings, secret=None):
    """Replace the file at ``path`` with the metrics of ``readings`` (see ``write_textfile``)."""
    write_textfile(path, client.generate_latest(registry_of(client, readings, secret)))


def clean_pushgateway_url(value):
    """``pushgateway_url``: None (not set) or the URL without a trailing slash; any host, http or https."""
    if value is None:
        return None
    url = ('%s' % (value,)).strip()
    if not url:
        raise StabilityOptionError('pushgateway_url', 'is empty; leave it unset to push nothing')
    parts = split_url('pushgateway_url', url)
    if parts.username is not None or parts.password is not None:
        raise StabilityOptionError('pushgateway_url', 'must not contain credentials; set %s and %s' % (USERNAME_ENV, PASSWORD_ENV))
    if parts.scheme.lower() not in ('http', 'https'):
        raise StabilityOptionError('pushgateway_url', 'must start with http:// or https://, got %r' % url)
    if not _HOST_AND_PORT.match(parts.netloc.lower()):
        raise StabilityOptionError('pushgateway_url', 'has no host name or a malformed one, got %r' % url)
    if parts.query or parts.fragment:
        raise StabilityOptionError('pushgateway_url', 'must not contain a query or a fragment, got %r' % url)
    return url.rstrip('/')


def clean_grouping(value):
    """``pushgateway_grouping``: ``label=value`` items (a list, or one comma-separated string) as a dict."""
    items = value.split(',') if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise StabilityOptionError('pushgateway_grouping', 'must be a list of label=value items, got %r' % (value,))
    if not ''.join('%s' % (item,) for item in items).strip():
        raise StabilityOptionError('pushgateway_grouping', 'is empty; leave it unset for playbook=<the playbook name>')
    grouping = {}
    for item in items:
        label, sign, text = ('%s' % (item,)).strip().partition('=')
        label, text = label.strip(), text.strip()
        if not sign or not text:
            raise StabilityOptionError('pushgateway_grouping', 'items are label=value with a value, got %r' % (item,))
        if not _LABEL_NAME.match(label) or label.startswith('__') or label in _RESERVED_LABELS:
            raise StabilityOptionError('pushgateway_grouping', 'has %r, which is not a label name of its own (letters, digits, _; not %s)' % (
                label, ', '.join(_RESERVED_LABELS)))
        if any(ord(char) < 0x20 or ord(char) == 0x7f for char in text):
            raise StabilityOptionError('pushgateway_grouping', 'has a control character in the value of %s' % label)
        if label in grouping:
            raise StabilityOptionError('pushgateway_grouping', 'names %s twice' % label)
        grouping[label] = text
    return grouping


def clean_credentials(url, username, password):
    """Basic-auth credentials from the environment: both or neither, and only where they do not travel in clear text."""
    username = username or None
    password = password or None
    if (username is None) != (password is None):
        raise StabilityOptionError(USERNAME_ENV if username is None else PASSWORD_ENV,
                                   'is not set, but %s is: set both or neither' % (PASSWORD_ENV if username is None else USERNAME_ENV))
    if username is None:
        return None
    if ':' in username or any(ord(char) < 0x20 or ord(char) == 0x7f for char in username + password):
        raise StabilityOptionError(USERNAME_ENV, 'or %s holds a colon (in the user name) or a control character' % PASSWORD_ENV)
    parts = urlsplit(url)
    if parts.scheme.lower() != 'https' and not is_loopback_as_written(parts.hostname):
        raise StabilityOptionError('pushgateway_url', 'uses plain http:// to %s, which would send the Pushgateway password in clear text; '
                                                      'use https:// (http:// with credentials only to localhost, 127.x.x.x or [::1])' % parts.hostname)
    return username, password


def clean_ca_path(url, value):
    """``pushgateway_ca_path``: None (the system's trust) or a readable file, for an https URL only."""
    path = clean_path_text('pushgateway_ca_path', value)
    if path is None:
        return None
    path = os.path.expanduser(path)
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise StabilityOptionError('pushgateway_ca_path', '%s is not a readable file' % path)
    if urlsplit(url).scheme.lower() != 'https':
        raise StabilityOptionError('pushgateway_ca_path', 'is set but pushgateway_url is not https://')
    return path


class Pushgateway(collections.namedtuple('Pushgateway', 'url grouping credentials ca_path timeout', defaults=(None, None, PUSH_TIMEOUT))):
    """A validated Pushgateway target; ``push`` sends a group with prometheus-client's ``push_to_gateway``."""

    __slots__ = ()

    def __repr__(self):
        return 'Pushgateway(url=%r, grouping=%r, credentials=%s, ca_path=%r)' % (
            self.url, self.grouping, 'set' if self.credentials else None, self.ca_path)

    def push(self, client, readings, secret=None):
        """Replace the group (job ``stabilityai_platform`` and the grouping key) with the metrics of ``readings``."""
        registry = registry_of(client, readings, secret)
        try:
            client.push_to_gateway(self.url, job=JOB, registry=registry, grouping_key=self.grouping, timeout=self.timeout, handler=self._handler)
        except Exception as exc:  # pylint: disable=broad-except  # urllib, ssl and socket errors alike; metrics never fail a run
            text = '%s' % (exc,)
            if self.credentials:
                text = redact(text, self.credentials[1])
            raise MetricsError('pushgateway_url: cannot push to %s: %s' % (self.url, one_line(redact(text, secret))))

    def _handler(self, url, method, timeout, headers, data):
        """prometheus-client's handler contract, over urllib: basic auth when set, the system's or ``ca_path``'s trust."""
        import urllib.request  # pylint: disable=import-outside-toplevel

        def send():
            request = urllib.request.Request(url, data=data, method=method)
            for name, value in headers:
                request.add_header(name, value)
            if self.credentials:
                token = base64.b64encode(('%s:%s' % self.credentials).encode('utf-8')).decode('ascii')
                request.add_header('Authorization', 'Basic ' + token)
            handlers = [urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=self.ca_path))]
            if is_loopback_as_written(urlsplit(url).hostname):
                handlers.append(urllib.request.ProxyHandler({}))  # never send a loopback push (or its password) to a proxy
            urllib.request.build_opener(*handlers).open(request, timeout=timeout).close()
        return send


def pushgateway_from_options(raw_option, playbook, environ=None):
    """A Pushgateway from ``raw_option(name) -> (value, source)``, or None when ``pushgateway_url`` is not set.

    A refusal names the option and where its value came from (``pushgateway_url (set by the
    environment variable STABILITY_PUSHGATEWAY_URL)``); credentials are never shown.
    """
    environ = os.environ if environ is None else environ
    url = checked(raw_option, 'pushgateway_url', clean_pushgateway_url)
    if url is None:
        return None
    return Pushgateway(
        url,
        # Not set: the playbook's file name, so that two pipelines keep their own groups.
        checked(raw_option, 'pushgateway_grouping', clean_grouping, default={'playbook': playbook} if playbook else {}),
        clean_credentials(url, environ.get(USERNAME_ENV), environ.get(PASSWORD_ENV)),
        checked(raw_option, 'pushgateway_ca_path', lambda value: clean_ca_path(url, value)),
    )


def checked(raw_option, name, clean, default=None):
    """``clean`` of option ``name`` as written (``default`` when unset); a refusal says where the value came from."""
    value, source = raw_option(name)
    if value is None:
        return default
    try:
        return clean(value)
    except StabilityOptionError as exc:
        if source is None:
            raise
        raise StabilityOptionError('%s (set by %s)' % (exc.option, source), exc.problem) from None
