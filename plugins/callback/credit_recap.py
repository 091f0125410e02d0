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
  - With O(report_path), writes the recap as JSON. When the environment variable E(GITHUB_STEP_SUMMARY) is set (GitHub
    Actions), appends the recap to that file as a Markdown table.
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
      - It holds C(started), C(finished) (UTC, ISO 8601), C(playbook), C(run_id), C(complete) (V(false) when a reading
        failed), C(spent) (the total), C(problem) (the warning, or V(null)), and C(organizations), a list of
        C(organization_id), C(organization_name) (known with V(all) and for the default organization), C(before), C(after),
        C(spent) and, with a ledger,
        C(runway) (C(spent_per_day), C(days_left), C(spent_per_run), C(runs_left), C(runs_recorded), C(window_days),
        C(reason)).
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
        appended under a file lock so that parallel jobs can share it."
      - Growth is bounded. Past 2 MiB the oldest lines are dropped down to 1 MiB (about 6,000 readings, months of
        history; the forecast looks at the last 7 days). A line that cannot be read is skipped with a warning.
    type: path
    env:
      - name: STABILITY_LEDGER
    ini:
      - section: callback_credit_recap
        key: ledger_path
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
'''

import os

from ansible.plugins.callback import CallbackBase

from ansible_collections.stabilityai.platform.plugins.plugin_utils._option_sources import (
    CONNECTION_CHECKS,
    check_raw_options,
    raw_option_value,
)
from ansible_collections.stabilityai.platform.plugins.plugin_utils._recap import CreditRecap


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
        self._recap = CreditRecap(self.get_option, self._display.warning, name, check_raw=self._check_raw_options)
        self._recap.start()

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
