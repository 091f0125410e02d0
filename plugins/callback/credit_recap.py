# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: credit_recap
type: notification
short_description: What a playbook run spent in Stability AI credits, and how long they will last
version_added: 1.1.0
description:
  - Reads the balance of each watched organization when the playbook starts and again when it ends, and prints after
    C(PLAY RECAP), per organization, the credits C(before), C(after) and C(spent) (before minus after; a top-up during
    the run shows as negative spend, labelled C(topped up)), the run's total, and the runway when the ledger holds
    enough readings.
  - A run's spend is everything the organization spent while the playbook ran, including anything else that spent from
    the same organization meanwhile (another pipeline, a person in the web app).
  - With O(ledger_path), appends both readings to the ledger and forecasts the runway from it (see
    M(stabilityai.platform.stability_balance_info) option O(stabilityai.platform.stability_balance_info#module:ledger_path)).
  - With O(report_path), writes the recap as JSON. When the environment variable E(GITHUB_STEP_SUMMARY) is set and not
    empty (GitHub Actions), appends the recap to that file as a Markdown table.
  - The report, the ledger and the step summary are used only if they are regular files or do not exist yet. Anything
    else in their place (a directory, a FIFO, a device such as C(/dev/full), a socket, a symbolic link) is refused
    without blocking, with one warning that names the option and the path. Each fails on its own, with its own warning.
  - It never changes a play's outcome. An unreachable API, a bad key or a damaged ledger gives one warning and a report
    with C(complete) V(false).
  - It makes one request per watched organization at the start and one at the end, plus one for the account at the start
    when O(organizations) is V(all) or not set (the key's default organization, which only the account names). With
    O(ledger_path) and named O(organizations), it also reads the account once at the end when the ledger holds readings
    written without an organization id (by 1.x), to tell whether they are one of the watched organizations'. The time
    those requests take is bounded by O(timeout) and O(retries).
  - Enable it in C(ansible.cfg) (C(callbacks_enabled = stabilityai.platform.credit_recap) in section C([defaults]))
    or with the environment variable C(ANSIBLE_CALLBACKS_ENABLED).
author:
  - stabilityai.platform maintainers (@stabilityai-platform)
extends_documentation_fragment:
  - stabilityai.platform._connection
  - stabilityai.platform._connection.CONTROLLER
options:
  organizations:
    description:
      - The organization ids to watch, or V(all) (in any case) for every organization of the account.
      - A list, or one string of ids separated by commas (as in E(STABILITY_RECAP_ORGANIZATIONS)). Surrounding white space
        is removed and a repeated id is watched once; an empty item beside ids (V(org-a,,org-b)), V(all) beside ids, or an
        id with a control character is refused with one warning, and nothing is read. The same rules as the
        M(stabilityai.platform.stability_balance_info) module's O(stabilityai.platform.stability_balance_info#module:organizations).
      - If not set or empty, the key's default organization. Its id is read from the account (one request a run) and the
        report and the ledger record it by that id. Before 2.0.0 they recorded it as V(null); such readings in the ledger
        count for the default organization of the key that reads them, so a ledger shared by several keys should name its
        organizations.
    type: list
    elements: str
    env:
      - name: STABILITY_RECAP_ORGANIZATIONS
    ini:
      - section: callback_credit_recap
        key: organizations
  report_path:
    description:
      - Write the run's recap to this file as JSON (mode 0600, replaced each run, never through a symbolic link).
      - An empty E(STABILITY_RECAP_REPORT) means not set.
      - It holds C(started), C(finished) (UTC, ISO 8601), C(playbook), C(run_id), C(complete) (V(false) when a reading
        failed), C(spent) (the total), C(problem) (the warning, or V(null)), and C(organizations), a list of
        C(organization_id), C(organization_name) (known with V(all) and for the default organization), C(before), C(after),
        C(spent) and, with a ledger, C(runway) (C(spent_per_day), C(days_left), C(spent_per_run), C(spent_per_run_max),
        C(runs_left), C(runs_recorded), C(window_days), C(reason); see
        M(stabilityai.platform.stability_balance_info) RV(stabilityai.platform.stability_balance_info#module:runway)).
      - The file is strict JSON. A spend too large for a number (from -1.7e308 credits to 1.7e308) is V(null), the report is
        not C(complete) and C(problem) says why.
    type: path
    env:
      - name: STABILITY_RECAP_REPORT
    ini:
      - section: callback_credit_recap
        key: report_path
  ledger_path:
    description:
      - Append the start and end readings to this ledger file and forecast the runway from it.
      - "JSON Lines, one reading a line: C(time) (UTC, ISO 8601), C(organization_id), C(credits), C(run_id), C(event)
        (C(start) or C(end)) and C(playbook); never the key. Created with mode 0600, never through a symbolic link,
        appended under a file lock so that parallel jobs can share it. The lock is waited for at most O(timeout) seconds in all per run (not per use)."
      - An empty E(STABILITY_LEDGER) means not set.
      - Growth is bounded. Past 2 MiB the oldest lines are dropped down to 1 MiB (about 6,000 readings, months of
        history; the forecast looks at the last 7 days). A line that cannot be read is skipped with a warning.
    type: path
    env:
      - name: STABILITY_LEDGER
    ini:
      - section: callback_credit_recap
        key: ledger_path
  metrics_path:
    description:
      - At the end of the run, write each organization's credits as Prometheus metrics to this file, for node_exporter's
        textfile collector (a name ending in C(.prom) in the collector's directory).
      - "Gauges C(stability_credits) (the latest reading), C(stability_run_spent_credits) (before minus after),
        C(stability_last_reading_timestamp_seconds) and, with O(ledger_path) when the ledger knows them,
        C(stability_runway_days_left) and C(stability_runway_runs_left), labelled C(organization_id) and
        C(organization_name)."
      - The file is replaced atomically (a temporary file in the same directory, then renamed), mode 0644 (it holds no
        secret; node_exporter reads it as another user). It must be a regular file or absent. A relative path is relative
        to the directory C(ansible-playbook) runs in. An empty E(STABILITY_METRICS_FILE) means not set.
      - When no balance could be read, the file is left as it was, so that its timestamp ages.
      - Needs the Python library C(prometheus-client) on the controller (C(pip install prometheus-client)); without it,
        or when the file cannot be written, one warning names this option and the run goes on.
    type: path
    version_added: 2.0.0
    env:
      - name: STABILITY_METRICS_FILE
    ini:
      - section: callback_credit_recap
        key: metrics_path
  pushgateway_url:
    description:
      - At the end of the run, push the same metrics as O(metrics_path) to the Prometheus Pushgateway at this URL
        (C(http://) or C(https://), any host, since the metrics hold no secret), under the job C(stabilityai_platform) and the
        grouping key O(pushgateway_grouping). The push replaces that group only.
      - One push, bounded by a 10 second time-out per network operation. An unreachable or refusing Pushgateway, or a
        controller without C(prometheus-client), gives one warning naming this option; the run goes on. When no balance
        could be read, nothing is pushed, so that the group's timestamp ages.
      - An empty E(STABILITY_PUSHGATEWAY_URL) means not set, so a CI variable that is not defined turns the push off.
    type: str
    version_added: 2.0.0
    env:
      - name: STABILITY_PUSHGATEWAY_URL
    ini:
      - section: callback_credit_recap
        key: pushgateway_url
  pushgateway_grouping:
    description:
      - The grouping key of the push beside C(job=stabilityai_platform), as C(label=value) items (a list, or one string
        separated by commas), for example V(pipeline=nightly,runner=ci-7). Each pipeline should have its own, so that
        one does not replace the other's group.
      - If not set, C(playbook=<the playbook's file name>).
      - Label names are letters, digits and C(_) (not C(job), C(organization_id) or C(organization_name)); values are
        sent as the Pushgateway encodes them (a C(/) is fine).
    type: list
    elements: str
    version_added: 2.0.0
    env:
      - name: STABILITY_PUSHGATEWAY_GROUPING
    ini:
      - section: callback_credit_recap
        key: pushgateway_grouping
  pushgateway_ca_path:
    description:
      - The CA bundle (PEM) that the Pushgateway's certificate must chain to, for an C(https://) O(pushgateway_url).
      - If not set, the system's trust store. The API's C(ca_path) is not used for the Pushgateway.
    type: path
    version_added: 2.0.0
    env:
      - name: STABILITY_PUSHGATEWAY_CA_PATH
    ini:
      - section: callback_credit_recap
        key: pushgateway_ca_path
  pushgateway_username:
    description:
      - The user name of the Pushgateway's basic authentication, with O(pushgateway_password); both or neither.
      - "The credentials are sent only over C(https://) or to a loopback address (C(localhost), C(127.x.x.x), C([::1]));
        with plain C(http://) to another host nothing is pushed and one warning says why. They are never printed."
    type: str
    version_added: 2.0.0
    env:
      - name: STABILITY_PUSHGATEWAY_USERNAME
  pushgateway_password:
    description:
      - The password of the Pushgateway's basic authentication, with O(pushgateway_username). From the environment only.
    type: str
    version_added: 2.0.0
    env:
      - name: STABILITY_PUSHGATEWAY_PASSWORD
notes:
  - A callback cannot read play variables, so the connection options come from the environment and C(ansible.cfg) only
    (the key from the environment only).
seealso:
  - module: stabilityai.platform.stability_balance_info
'''

EXAMPLES = r'''
# ansible.cfg
# [defaults]
# callbacks_enabled = stabilityai.platform.credit_recap
#
# [callback_credit_recap]
# organizations = org-alice-studio, org-alice-lab
# ledger_path = /var/lib/ci/stability-ledger.jsonl
#
# or in a CI job:
#   ANSIBLE_CALLBACKS_ENABLED=stabilityai.platform.credit_recap STABILITY_RECAP_REPORT=recap.json ansible-playbook site.yml
#
# Prometheus: a file for node_exporter's textfile collector, and a push to a Pushgateway
# [callback_credit_recap]
# organizations = all
# metrics_path = /var/lib/prometheus/node-exporter/stability.prom
# pushgateway_url = https://pushgateway.example.com
# pushgateway_grouping = pipeline=nightly
'''

import os

from ansible.plugins.callback import CallbackBase

from ansible_collections.stabilityai.platform.plugins.plugin_utils._option_sources import (
    CONNECTION_CHECKS,
    check_raw_options,
    option_unless_empty_environment,
    raw_option_value,
    unknown_ini_keys,
)
from ansible_collections.stabilityai.platform.plugins.plugin_utils._recap import CreditRecap

PATH_OPTIONS = ('ledger_path', 'report_path')


class CallbackModule(CallbackBase):
    """Wires Ansible's playbook start and end to ``CreditRecap`` (plugin_utils/_recap.py)."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'notification'
    CALLBACK_NAME = 'stabilityai.platform.credit_recap'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._recap = None

    def v2_playbook_on_start(self, playbook):
        name = os.path.basename(getattr(playbook, '_file_name', None) or '') or None
        for warning in unknown_ini_keys():
            self._display.warning(warning)
        self._recap = CreditRecap(self._option, self._display.warning, name, check_raw=self._check_raw_options, raw_option=self._raw_option)
        self._recap.start()

    def _option(self, name):
        """The option as Ansible gives it, except that an empty ``STABILITY_LEDGER`` or ``STABILITY_RECAP_REPORT`` means unset."""
        if name in PATH_OPTIONS:
            return option_unless_empty_environment('callback', self._load_name, name, self.get_option(name))
        return self.get_option(name)

    def _raw_option(self, name):
        """``(value, source)`` of option ``name`` as written in the environment or ansible.cfg (the metrics options).

        An empty environment variable means unset (ansible.cfg's value then counts), as for the ledger and the report.
        """
        environ = dict((key, value) for key, value in os.environ.items() if value.strip())
        return raw_option_value('callback', self._load_name, name, {}, None, environ=environ)

    def _check_raw_options(self):
        """Refuse what Ansible's type conversion guessed at (``validate_certs = maybe`` in ansible.cfg is not false)."""
        check_raw_options(lambda name: raw_option_value('callback', self._load_name, name, {}, None), CONNECTION_CHECKS)

    def v2_playbook_on_stats(self, stats):
        if self._recap is None:
            return
        lines = self._recap.finish()
        self._recap = None
        self._display.banner('STABILITY AI CREDITS')
        for line in lines:
            self._display.display(line)
