#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: stability_balance_info
short_description: Read the Stability AI credit balance and stop when it is too low
version_added: 1.0.0
description:
  - Reads the credits left from C(GET /v1/user/balance) (or C(/v1alpha/user/balance)) for the key's default
    organization or the one named in O(organization). One credit is US$0.01; Stability AI sends no low-balance
    warnings, so this is the way to know before a job runs dry.
  - With O(organizations) or O(all_organizations), also reads the account and returns the balance of each of those
    organizations in RV(balances), fetched concurrently (at most 4 requests in flight, well under the API's limit of
    150 requests per 10 seconds).
  - With O(min_credits), fails when a balance read is below it, naming each organization, its balance and the
    threshold; RV(credits) and RV(balances) are still returned so that a playbook can report them.
  - With O(ledger_path), also returns the RV(runway) of each balance read, forecast from the ledger that the
    P(stabilityai.platform.credit_recap#callback) callback writes; O(min_days_left) and O(min_runs_left) fail on it.
  - Changes nothing, so it is safe in check mode and always reports C(changed=false). It never caches; every run asks the API.
author:
  - stabilityai.platform maintainers (@stabilityai-platform)
extends_documentation_fragment:
  - stabilityai.platform._connection
  - stabilityai.platform._attributes.INFO_MODULE
options:
  organization:
    description:
      - The organization id (C(org-...)) whose balance RV(credits) reports, sent as the C(Organization) header.
      - If not set, the API answers for the key's default organization.
      - Surrounding white space is removed; an id with a control character is refused before anything is sent.
    type: str
  organizations:
    description:
      - Organization ids to read the balances of, returned in RV(balances) in this order, or V(all) (in any case) for every
        organization of the account, like O(all_organizations).
      - A list, or one string of ids separated by commas. Surrounding white space is removed and a repeated id is read once;
        an empty item beside ids (V(org-a,,org-b)), V(all) beside ids, or an id with a control character is refused before
        anything is sent. An empty value (V(""), V([])) means not set.
      - Each must be one of the account's organizations (see M(stabilityai.platform.stability_account_info)); an unknown
        id fails before any balance is read.
      - The same rules as the P(stabilityai.platform.credit_recap#callback) callback's and the C(credit_balance) event
        source's C(organizations) and the preflight playbook's C(stability_organizations).
      - Before 2.0.0 this was a list only and an empty list was refused.
    type: raw
  all_organizations:
    description:
      - Read the balance of every organization of the account and return them in RV(balances).
      - Cannot be V(true) together with O(organizations), unless that is V(all).
    type: bool
    default: false
  min_credits:
    description:
      - Fail when a balance read is below this number of credits.
      - With O(organizations) or O(all_organizations) every balance in RV(balances) is checked, otherwise RV(credits).
      - The message names each organization below the threshold, its balance and the threshold.
      - A number of credits, 0 or more, such as V(100), V(12.5) or V(1e3). Anything else (V("100 credits"), V(true),
        a negative number, V(inf)) is refused with a message that shows the value, before any request is sent.
    type: raw
  warn_below:
    description:
      - Emit a warning, not a failure, when a balance read is below this number of credits.
      - Checked like O(min_credits); use both for a warning zone above the hard stop.
      - A number of credits, 0 or more, like O(min_credits).
    type: raw
  ledger_path:
    description:
      - The credit ledger written by the P(stabilityai.platform.credit_recap#callback) callback (its C(ledger_path)), on
        the host the module runs on. Read only, under a shared lock waited for at most O(timeout) seconds; a missing file
        has no readings.
      - Anything but a regular file (a directory, a FIFO, a device, a socket, a symbolic link) is refused without blocking,
        with one line that names O(ledger_path) and the path.
      - Every balance read then also returns RV(runway), forecast from the readings of the last 7 days and the balance
        just read. A line of the ledger that cannot be read is skipped with a warning.
      - Each organization's history is the readings with its id. Readings without an id (written by the callback of 1.x
        for the key's default organization) count for the default organization of the key that reads them. To tell
        which organization that is, the module reads the account (one more request) when the ledger holds readings
        without an id and an organization is read by id, or readings with ids and the default organization is read
        without O(organization); with O(organizations) or O(all_organizations) the account is read anyway.
      - A ledger shared by several keys should name its organizations (the callback of 2.0.0 records every one by its id).
    type: path
    version_added: 1.1.0
  min_days_left:
    description:
      - Fail when the credits of an organization read will run out in fewer than this many days at the rate of the
        last 7 days (C(runway.days_left)). The message names each organization, its runway, its balance and the threshold.
      - Credits at or below zero have 0 days left, so this fails on them whatever the ledger holds.
      - When the ledger holds too little data for a forecast, a warning says why and the check passes, unless
        O(runway_required) is V(true).
      - A number of days, 0 or more. Needs O(ledger_path).
    type: raw
    version_added: 1.1.0
  min_runs_left:
    description:
      - Fail when the credits of an organization read cover fewer than this many runs at the spend of the costliest
        complete run of the last 7 days (C(runway.runs_left), from C(runway.spent_per_run_max); not the median
        C(runway.spent_per_run), which is for display). The message names each organization, its runway, its balance
        and the threshold.
      - Credits at or below zero have 0 runs left, so this fails on them whatever the ledger holds.
      - When the ledger holds too little data for a forecast, a warning says why and the check passes, unless
        O(runway_required) is V(true).
      - A number of runs, 0 or more. Needs O(ledger_path).
      - Before 2.0.0 the median run was used, so a few cheap runs hid an expensive one.
    type: raw
    version_added: 1.1.0
  metrics_path:
    description:
      - Also write the balances read as Prometheus metrics to this file on the host the module runs on, for node_exporter's
        textfile collector (give it a name ending in C(.prom) in the collector's directory).
      - "Gauges C(stability_credits), C(stability_last_reading_timestamp_seconds) and, with O(ledger_path) when the
        ledger knows them, C(stability_runway_days_left) and C(stability_runway_runs_left), labelled C(organization_id)
        and C(organization_name): one series per organization of RV(balances), or the one of RV(credits) when only that was
        read."
      - "When only RV(credits) was read, the account is read too (one more request, unless it was read anyway) for that
        organization's id and name, so that the key's default organization has the series the
        P(stabilityai.platform.credit_recap#callback) callback gives it, not one with an empty C(organization_id).
        If the account cannot be read, one warning says so and the labels are empty."
      - The file is replaced atomically (written to a temporary file in the same directory, then renamed), mode 0644 (it
        holds no secret; node_exporter reads it as another user). It must be a regular file or absent.
      - Written after the balances are read and before the gates are checked, so a failed gate still updates the metrics.
      - It never changes the task's outcome. A file that cannot be written, or a host without the Python library
        C(prometheus-client) (C(pip install prometheus-client)), gives one warning naming this option; the balances are
        still returned and the gates still checked.
      - See the guide R(Monitor the credits,ansible_collections.stabilityai.platform.docsite.monitoring).
    type: path
    version_added: 2.0.0
  runway_required:
    description:
      - Make O(min_days_left) and O(min_runs_left) fail, instead of warning and passing, when the ledger holds too little
        data for the forecast they check (C(runway.reason) says why). For pipelines that must not start without a known
        runway.
      - Has no effect without one of those thresholds.
    type: bool
    default: false
    version_added: 2.0.0
'''

EXAMPLES = r'''
- name: Read the credits of the key's default organization
  stabilityai.platform.stability_balance_info:
  register: balance

- name: Print them in dollars
  ansible.builtin.debug:
    msg: "{{ '%.2f' | format(balance.credits) }} credits (US${{ '%.2f' | format(balance.credits / 100) }})"

- name: Stop the play before a generation job that needs 250 credits runs dry
  stabilityai.platform.stability_balance_info:
    min_credits: 250
    warn_below: 1000

- name: Read the balance of one organization of the account
  stabilityai.platform.stability_balance_info:
    organization: org-alice-lab
  register: lab

- name: Read every organization's balance and fail if any is below 100 credits
  stabilityai.platform.stability_balance_info:
    all_organizations: true
    min_credits: 100
  register: all_balances

- name: Report the balance of each organization
  ansible.builtin.debug:
    msg: "{{ item.organization_name }}: {{ '%.2f' | format(item.credits) }}"
  loop: "{{ all_balances.balances }}"
  loop_control:
    label: "{{ item.organization_id }}"

- name: Stop when the credits will not last 3 more days or 10 more runs (the credit_recap callback keeps the ledger)
  stabilityai.platform.stability_balance_info:
    all_organizations: true
    ledger_path: /var/lib/ci/stability-ledger.jsonl
    min_days_left: 3
    min_runs_left: 10
  register: runway_check

- name: Report the runway
  ansible.builtin.debug:
    msg: "{{ item.organization_id }}: {{ item.runway.days_left }} days, {{ item.runway.runs_left }} runs left"
  loop: "{{ runway_check.balances }}"
  loop_control:
    label: "{{ item.organization_id }}"

- name: Check every organization and leave their balances for node_exporter's textfile collector
  stabilityai.platform.stability_balance_info:
    all_organizations: true
    min_credits: 100
    metrics_path: /var/lib/prometheus/node-exporter/stability.prom
'''

RETURN = r'''
credits:
  description:
    - The credits left in O(organization), or in the key's default organization when O(organization) is not set.
    - A fractional number exactly as the API sent it, never rounded. One credit is US$0.01.
  returned: success, and on a failure of O(min_credits)
  type: float
  sample: 1532.6336833840314
organization:
  description: The organization id asked for in O(organization), or V(null) for the key's default organization.
  returned: success, and on a failure of O(min_credits)
  type: str
  sample: org-alice-lab
balances:
  description: The balance of each organization asked for with O(organizations) or O(all_organizations), in that order.
  returned: when O(organizations) or O(all_organizations) is set, on success and on a failure of O(min_credits)
  type: list
  elements: dict
  contains:
    organization_id:
      description: The organization id.
      returned: always
      type: str
      sample: org-alice-lab
    organization_name:
      description: The organization name.
      returned: always
      type: str
      sample: Alice Lab
    role:
      description: The role of the key's account in the organization.
      returned: always
      type: str
      sample: MEMBER
    is_default:
      description: Whether this is the key's default organization.
      returned: always
      type: bool
      sample: false
    credits:
      description: The credits left in the organization.
      returned: always
      type: float
      sample: 12.5
    runway:
      description:
        - How long the credits of this organization will last, forecast from the ledger in O(ledger_path).
        - The same keys as RV(runway).
      returned: when O(ledger_path) is set
      type: dict
      version_added: 1.1.0
runway:
  description:
    - How long the credits of RV(credits) will last, forecast from the ledger in O(ledger_path).
    - RV(runway.days_left) and RV(runway.runs_left) are V(0) when the credits are at or below zero, whatever the ledger
      holds, and when the quotient is too large to compute (so a gate fails rather than pass).
    - A spend too large for a float is V(null) in RV(runway.spent_per_day), RV(runway.spent_per_run) and
      RV(runway.spent_per_run_max).
  returned: when O(ledger_path) is set, on success and on a failure of a gate
  type: dict
  version_added: 1.1.0
  contains:
    spent_per_day:
      description:
        - Credits spent a day over the window (decreases between consecutive readings; top-ups left out); V(null) when there
          is less than a day of readings.
      type: float
      returned: always
      sample: 41.5
    days_left:
      description: Credits divided by RV(runway.spent_per_day); V(null) when there is too little data. O(min_days_left) uses it.
      type: float
      returned: always
      sample: 36.9
    spent_per_run:
      description: The median spend of the complete runs (a start and an end reading) in the window, for display; V(null) when there is none.
      type: float
      returned: always
      sample: 25.0
    spent_per_run_max:
      description: The spend of the costliest complete run in the window, V(null) when there is none; RV(runway.runs_left) and O(min_runs_left) use it.
      type: float
      returned: always
      sample: 40.0
      version_added: 2.0.0
    runs_left:
      description: The credits divided by RV(runway.spent_per_run_max), rounded down; V(null) when there is too little data.
      type: int
      returned: always
      sample: 38
    runs_recorded:
      description: How many complete runs RV(runway.spent_per_run) and RV(runway.spent_per_run_max) are taken over.
      type: int
      returned: always
      sample: 4
    window_days:
      description: The days of readings the forecast looks at.
      type: int
      returned: always
      sample: 7
    reason:
      description: Why a forecast is V(null) (too little data), or V(null). Never set for a number out of range.
      type: str
      returned: always
      sample: no complete run (a start and an end reading) in the last 7 days
failed_gates:
  description:
    - Which gates failed, one item per organization and gate, in the order of the message; empty when every gate passed.
    - Read this, not the message, to tell in a playbook which gate stopped the run (the pre-flight playbook does).
  returned: when the balances were read
  type: list
  elements: dict
  version_added: 2.0.0
  sample: [{option: min_credits, organization_id: org-a, value: 92.5, threshold: 100.0}]
  contains:
    option:
      description: The gate, V(min_credits), V(min_days_left) or V(min_runs_left).
      type: str
      returned: always
      sample: min_credits
    organization_id:
      description: The organization whose balance or runway failed it; V(null) for the key's default organization read without O(organization).
      type: str
      returned: always
      sample: org-a
    value:
      description:
        - The credits, days left or runs left that were below the threshold; V(null) when the runway is unknown and
          O(runway_required) is V(true).
      type: float
      returned: always
      sample: 92.5
    threshold:
      description: The threshold the value was checked against.
      type: float
      returned: always
      sample: 100.0
invalid_option:
  description: The option whose value was refused before any request was sent (the message names it and the value).
  returned: failure, when an option was refused
  type: str
  version_added: 2.0.0
  sample: min_credits
status:
  description: The HTTP status of the failed request, when the API answered.
  returned: failure
  type: int
  sample: 403
error:
  description: The API's error body, for support requests.
  returned: failure, when the API sent an error body
  type: dict
  contains:
    id:
      description: The error id to quote to Stability AI support.
      returned: when the API sent one
      type: str
      sample: 9160aa70222f5ca4a61a42a5ac4aeda2
    name:
      description: The error name.
      returned: when the API sent one
      type: str
      sample: permission_denied
    message:
      description: The error message, or the API's C(errors) joined with C(; ).
      returned: when the API sent one
      type: str
      sample: you do not have access to organization org-stranger
'''

import datetime
import time

# Only what a call for one organization uses is imported here: AnsiballZ compiles every module_utils file a call imports
# from source, on every call.  _account, _organizations, _ledger, _runway and _metrics are imported by the functions that
# use them (organizations, ledger_path, metrics_path); tests/unit/plugins/modules/test_module_imports.py holds to that.
from ansible_collections.stabilityai.platform.plugins.module_utils._argspec import connection_argument_spec
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityError, StabilityOptionError
from ansible_collections.stabilityai.platform.plugins.module_utils._module_runtime import StabilityModule, client_for_module, freeze_loaded_objects
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import clean_organization, clean_path_text
from ansible_collections.stabilityai.platform.plugins.module_utils._thresholds import (
    RUNWAY_GATES,
    clean_runway_threshold,
    clean_threshold,
    failed_gates,
    organization_label,
    runway_gate,
    shortfall,
)


def asked_organizations(params):
    """``(several, organizations)``: whether ``balances`` is asked for, and then the ids named (None: every organization).

    ``_organizations`` is imported only when ``organizations`` or ``all_organizations`` is set.
    """
    if params['organizations'] is None and not params['all_organizations']:
        return False, None
    from ansible_collections.stabilityai.platform.plugins.module_utils import _organizations  # pylint: disable=import-outside-toplevel  # only when asked
    organizations = _organizations.parse_organizations('organizations', params['organizations'])
    if isinstance(organizations, list) and params['all_organizations']:
        raise StabilityOptionError('organizations', 'and all_organizations exclude each other: name organizations or ask for all of them')
    if params['all_organizations'] or organizations == _organizations.ALL_ORGANIZATIONS:
        return True, None
    return organizations is not None, organizations


def read_balances(client, account, organization, organizations):
    """``credits`` of ``organization`` plus a ``balances`` entry per chosen membership, fetched together."""
    from ansible_collections.stabilityai.platform.plugins.module_utils import _account  # pylint: disable=import-outside-toplevel  # only when asked
    memberships = _account.chosen_memberships(account, organizations)
    targets = [membership['id'] for membership in memberships]
    if organization is None:
        default = _account.default_membership(account)
        credits_target = default['id'] if default else None
    else:
        credits_target = organization
    extra = [] if credits_target in targets else [credits_target]
    readings = dict(zip(targets + extra, client.fetch_balances(targets + extra)))
    balances = [dict(
        organization_id=membership['id'],
        organization_name=membership['name'],
        role=membership['role'],
        is_default=membership['is_default'],
        credits=readings[membership['id']],
    ) for membership in memberships]
    return readings[credits_target], balances


def read_history(module, result, ledger_path, lock_timeout):
    """The ledger's readings; a line it cannot read is a warning, a ledger it cannot open a failure.

    The ledger's lock is waited for at most ``lock_timeout`` seconds (the module's ``timeout``).
    """
    from ansible_collections.stabilityai.platform.plugins.module_utils import _ledger  # pylint: disable=import-outside-toplevel  # only when asked
    try:
        history, warnings = _ledger.read_readings(ledger_path, lock_timeout=lock_timeout)
    except _ledger.LedgerError as exc:
        module.fail_json(msg='ledger_path: %s' % exc, **result)
    for warning in warnings:
        module.warn(warning)
    return history


def add_runway(module, client, result, account, ledger_path):
    """Put a ``runway`` beside every balance in ``result``, forecast from the ledger at ``ledger_path``; the account read so far or None.

    Readings written without an id (1.x) are the key's default organization's: its id is needed only when the
    ledger mixes such readings with ids; then the account is read, once.
    """
    from ansible_collections.stabilityai.platform.plugins.module_utils import _account, _runway  # pylint: disable=import-outside-toplevel  # only when asked
    history = read_history(module, result, ledger_path, client.settings.timeout)
    asked = [item['organization_id'] for item in result.get('balances', [])] + [result['organization']]
    if account is None and _runway.needs_default_organization(history, asked):
        account = client.fetch_account(sendable_ids=True)
    default = _account.default_membership(account) if account is not None else None
    default_organization_id = default['id'] if default else None
    now = datetime.datetime.now(datetime.timezone.utc)
    for item in result.get('balances', []):
        item['runway'] = _runway.runway(history, item['organization_id'], item['credits'], now=now, default_organization_id=default_organization_id)
    result['runway'] = _runway.runway(history, result['organization'], result['credits'], now=now, default_organization_id=default_organization_id)


def labelled(result, key):
    """``(label, value of key)`` for every balance read: each of ``balances``, or the one ``credits`` reading."""
    if 'balances' in result:
        return [(organization_label(item['organization_id'], item['organization_name']), item[key]) for item in result['balances']]
    return [(organization_label(result['organization']), result[key])]


def balance_rows(result):
    """Every balance read as a row with ``organization_id``, ``credits`` and ``runway``: each of ``balances``, or the one reading."""
    return result.get('balances') or [dict(organization_id=result['organization'], credits=result['credits'], runway=result.get('runway'))]


def metrics_membership(client, account, organization):
    """``(membership, problem)``: the membership (id, name) of the one ``credits`` reading, for its metrics labels.

    A series labelled only by the key's default organization, with an empty id, would not be the
    series the callback writes for the same organization, and two keys' defaults would share it; so
    the account is read (once, only for ``metrics_path``). It cannot fail the task: the metrics never do.
    """
    try:
        account = account or client.fetch_account(sendable_ids=True)
    except StabilityError as exc:
        return None, exc.msg
    if organization is None:
        from ansible_collections.stabilityai.platform.plugins.module_utils import _account  # pylint: disable=import-outside-toplevel  # only when asked
        return _account.default_membership(account), None
    return next((membership for membership in account['organizations'] if membership['id'] == organization), None), None


def write_metrics(module, result, path, membership=(None, None)):
    """Write the balances in ``result`` to the metrics file at ``path``; a failure is a warning, never the task's outcome.

    ``membership`` is ``metrics_membership``'s answer, for the labels of the one ``credits`` reading.
    """
    from ansible_collections.stabilityai.platform.plugins.module_utils import _metrics  # pylint: disable=import-outside-toplevel  # only when asked
    now = time.time()
    membership, problem = membership
    if problem:
        module.warn('metrics_path: the account could not be read to name the organization in the metrics (%s); its labels are left empty' % problem)
    single = dict(organization_id=result['organization'], credits=result['credits'], runway=result.get('runway'))
    if membership is not None:
        single.update(organization_id=membership['id'], organization_name=membership['name'])
    rows = result.get('balances') or [single]
    readings = [dict(organization_id=row['organization_id'], organization_name=row.get('organization_name'), credits=row['credits'],
                     time=now, **_metrics.runway_fields(row.get('runway'))) for row in rows]
    try:
        _metrics.write_metrics_file(_metrics.load_client('metrics_path'), path, readings, module.params['api_key'])
    except _metrics.MetricsError as exc:
        module.warn('%s; the balances were read and the gates checked' % exc.msg)


def runway_failures(module, result, thresholds, required):
    """Check the runway gates: warn where the ledger says too little (fail with ``required``), return the failures."""
    forecasts = [(label, credits, forecast) for (label, credits), (dummy, forecast) in zip(labelled(result, 'credits'), labelled(result, 'runway'))]
    failures = []
    for option in sorted(RUNWAY_GATES):
        failure, warning = runway_gate(option, thresholds[option], forecasts, required)
        if warning:
            module.warn(warning)
        if failure:
            failures.append(failure)
    return failures


def main():
    module = StabilityModule(
        argument_spec=connection_argument_spec(
            organization=dict(type='str'),
            organizations=dict(type='raw'),  # raw: parse_organizations takes a list or a comma-separated string
            all_organizations=dict(type='bool', default=False),
            # raw: clean_threshold converts, so a bad value is refused with the value shown
            min_credits=dict(type='raw'),
            warn_below=dict(type='raw'),
            ledger_path=dict(type='path'),
            min_days_left=dict(type='raw'),
            min_runs_left=dict(type='raw'),
            metrics_path=dict(type='path'),
            runway_required=dict(type='bool', default=False),
        ),
        required_by=dict(min_days_left='ledger_path', min_runs_left='ledger_path'),
        supports_check_mode=True,
    )
    params = module.params
    try:
        organization = clean_organization('organization', params['organization'])
        min_credits = clean_threshold('min_credits', params['min_credits'])
        warn_below = clean_threshold('warn_below', params['warn_below'])
        runway_thresholds = dict((option, clean_runway_threshold(option, params[option])) for option in RUNWAY_GATES)
        ledger_path = clean_path_text('ledger_path', params['ledger_path'])
        metrics_path = clean_path_text('metrics_path', params['metrics_path'])
        several, organizations = asked_organizations(params)
    except StabilityError as exc:
        module.fail_json(**exc.to_result())

    result = dict(changed=False, organization=organization)
    with client_for_module(module) as client:
        try:
            account = None
            if several:
                account = client.fetch_account(sendable_ids=True)
                result['credits'], result['balances'] = read_balances(client, account, organization, organizations)
            else:
                result['credits'] = client.fetch_balance(organization)
            if ledger_path is not None:
                add_runway(module, client, result, account, ledger_path)
        except StabilityError as exc:
            module.fail_json(**dict(result, **exc.to_result()))
        membership = metrics_membership(client, account, organization) if metrics_path is not None and 'balances' not in result else (None, None)

    failures = runway_failures(module, result, runway_thresholds, params['runway_required']) if ledger_path is not None else []
    if metrics_path is not None:
        write_metrics(module, result, metrics_path, membership)

    readings = labelled(result, 'credits')
    warning = shortfall('warn_below', warn_below, readings)
    if warning:
        module.warn(warning)
    failure = shortfall('min_credits', min_credits, readings)
    failure = '; '.join(item for item in [failure] + failures if item)
    result['failed_gates'] = failed_gates(dict(runway_thresholds, min_credits=min_credits), balance_rows(result), params['runway_required'])
    if failure:
        module.fail_json(msg=failure, **result)
    module.exit_json(**result)


if __name__ == '__main__':
    freeze_loaded_objects()
    main()
