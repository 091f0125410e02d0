# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: stability_balance
short_description: The Stability AI credits left, for gating a play on them
version_added: 1.0.0
description:
  - Returns the credits left (a float) in each organization given as a term, or in the key's default organization when
    there is no term, from C(GET /v1/user/balance). So V(lookup) gives a number and V(query) a list.
  - Several terms are read concurrently.
  - Runs on the controller. Ansible evaluates a lookup once per host and per templating, so the answer is cached
    (see O(cache_ttl)) and a play over hundreds of hosts makes one request instead of one per host; the API allows
    150 requests per 10 seconds and then refuses the caller for 60 seconds.
  - The cache serves one C(ansible-playbook) run (see O(cache_scope)); since 2.0.0 a run never gates on a balance an
    earlier run read.
author:
  - stabilityai.platform maintainers (@stabilityai-platform)
extends_documentation_fragment:
  - stabilityai.platform._connection
  - stabilityai.platform._connection.CONTROLLER
  - stabilityai.platform._connection.PLUGINS
options:
  _terms:
    description:
      - Organization ids (C(org-...)), sent as the C(Organization) header. None for the key's default organization.
      - Surrounding white space is removed; an id with a control character is refused before anything is sent.
    type: list
    elements: str
    required: false
  min_credits:
    description:
      - Fail the task when a balance read is below this number of credits; the message names each organization,
        its balance and the threshold.
      - A number of credits, 0 or more, such as V(100), V(12.5) or V(1e3), as in the module. Anything else (V("100 credits"),
        V(true), a negative number, V(inf)) is refused with a message that shows the value, before any request is sent.
    type: raw
  warn_below:
    description:
      - Show a warning, not a failure, when a balance read is below this number of credits.
      - A number of credits, 0 or more, like O(min_credits).
    type: raw
  cache_ttl:
    description:
      - Seconds a balance read is reused, for the same O(api_url), O(api_version), organization and O(api_key), by every
        host, fork and play of one C(ansible-playbook) run (see O(cache_scope)).
      - Concurrent misses in forked workers wait for one another, so exactly one request goes out per entry.
      - V(0) turns the cache off; then every evaluation asks the API.
      - A balance can therefore be up to this old. Failed reads are never cached.
    type: float
    default: 60
    env:
      - name: STABILITY_CACHE_TTL
    vars:
      - name: stability_cache_ttl
    ini:
      - section: stabilityai_platform
        key: cache_ttl
  cache_scope:
    description:
      - Who shares a cached balance.
      - V(run) shares it among the hosts, forks and plays of one C(ansible-playbook) run, and never serves a reading an
        earlier run took, however recent, so that every run gates on the credits it starts with. A run is its
        C(ansible-playbook) process, known by its process id and start time, so two runs from one CI shell do not share.
      - V(user) shares it with every later run of the same user on this controller within O(cache_ttl), as releases
        before 2.0.0 did. B(Risk:) a gate can then pass on a balance read before an earlier run spent credits, up to
        O(cache_ttl) seconds old; use it for reports and dashboards, not for gates that must stop an overdrawn run.
      - V(run) needs C(/proc) (Linux) to tell runs apart; without it the lookup warns once and reads without a cache.
      - Anything else is refused with a message that shows the value.
    type: str
    choices: [run, user]
    default: run
    version_added: 2.0.0
    env:
      - name: STABILITY_CACHE_SCOPE
    vars:
      - name: stability_cache_scope
    ini:
      - section: stabilityai_platform
        key: cache_scope
  cache_dir:
    description:
      - Directory of the cache, created with mode 0700; each entry is a 0600 file that holds only the credits and the
        time they were read, named by a keyed hash (HMAC-SHA256 under a random per-directory secret), so the key is never
        stored. Entries nobody wrote for a day (those of earlier runs) are removed when a new one is written.
      - The directory is created only if it does not exist, and an existing one is never changed. A directory, or a file
        in it, that belongs to another user, that others may read or write (such as a shared C(/tmp)), or that is not
        of the right kind (a FIFO, a link) is not used; the lookup then reads without a cache and warns once.
      - If not set, C($XDG_CACHE_HOME/stabilityai.platform), or C(~/.cache/stabilityai.platform).
      - The request budget of O(rate_limit) lives in the directory E(STABILITY_CACHE_DIR) names (otherwise the default
        above), which modules see too, so that modules and lookups share one budget; C(cache_dir) set as a keyword, a
        variable or in C(ansible.cfg) moves only the balance cache.
    type: path
    env:
      - name: STABILITY_CACHE_DIR
    vars:
      - name: stability_cache_dir
    ini:
      - section: stabilityai_platform
        key: cache_dir
notes:
  - A keyword that is not an option of this lookup (a typo such as C(min_credit=100), or C(organization=)) fails the
    lookup with a message naming the closest option, instead of being ignored. Organizations are terms, as in
    C(lookup('stabilityai.platform.stability_balance', 'org-x')).
  - Every source of an option (keyword, variable, environment, C(ansible.cfg)) is checked before Ansible converts
    it, so C(validate_certs = maybe) in C(ansible.cfg) is refused, naming the file, instead of read as V(false).
  - Modules of this collection never cache; use M(stabilityai.platform.stability_balance_info) to read the live balance.
seealso:
  - module: stabilityai.platform.stability_balance_info
  - module: stabilityai.platform.stability_account_info
'''

EXAMPLES = r'''
- name: Run the generation job only when the default organization has more than 500 credits
  ansible.builtin.include_tasks: generate.yml
  when: lookup('stabilityai.platform.stability_balance') | float > 500

- name: Fail early, with a message naming the organization, when one has less than 100 credits
  ansible.builtin.debug:
    msg: "{{ query('stabilityai.platform.stability_balance', 'org-alice-studio', 'org-alice-lab', min_credits=100) }}"

- name: Warn below 1000 credits, read the live value (no cache)
  ansible.builtin.set_fact:
    studio_credits: "{{ lookup('stabilityai.platform.stability_balance', 'org-alice-studio', warn_below=1000, cache_ttl=0) }}"

- name: A dashboard that may reuse a reading an earlier run took (up to 5 minutes old); never gate on it
  ansible.builtin.debug:
    msg: "{{ lookup('stabilityai.platform.stability_balance', cache_scope='user', cache_ttl=300) }} credits"

- name: Talk to the bundled simulator instead of the real API
  ansible.builtin.debug:
    msg: "{{ lookup('stabilityai.platform.stability_balance', api_url='http://127.0.0.1:8080', api_key='sk-sim-alice-64Es19knE59ROToV') }}"
'''

RETURN = r'''
_raw:
  description:
    - One float per term, the credits left in that organization (or one for the key's default organization without terms),
      exactly as the API sent them. One credit is US$0.01.
  type: list
  elements: float
'''

import functools
import threading

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.stabilityai.platform.plugins.module_utils._concurrency import map_concurrently
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityError
from ansible_collections.stabilityai.platform.plugins.module_utils._private_dir import default_cache_dir
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import (
    ConnectionSettings,
    clean_organization,
    clean_path_text,
    max_total_seconds,
)
from ansible_collections.stabilityai.platform.plugins.module_utils._thresholds import clean_threshold, organization_label, shortfall
from ansible_collections.stabilityai.platform.plugins.plugin_utils._cache import (
    BalanceCache,
    CacheUnavailable,
    clean_cache_scope,
    clean_cache_ttl,
)
from ansible_collections.stabilityai.platform.plugins.plugin_utils._option_sources import (
    CONNECTION_CHECKS,
    THRESHOLD_CHECKS,
    check_keywords,
    check_raw_options,
    raw_option_value,
    templated_option_variables,
    unknown_ini_keys,
)

# The raw checks of this lookup's options (see _option_sources): the shared ones and its own.
RAW_CHECKS = dict(CONNECTION_CHECKS, cache_ttl=clean_cache_ttl, cache_scope=clean_cache_scope,
                  cache_dir=functools.partial(clean_path_text, 'cache_dir'), **THRESHOLD_CHECKS)

display = Display()


class BalanceReader(object):
    """Answers each organization from the cache, and makes the HTTP client only on a miss."""

    def __init__(self, settings, cache):
        self.settings = settings
        self.cache = cache
        self._client = None
        self._client_lock = threading.Lock()

    def credits(self, organization):
        cache = self.cache
        if cache is not None:
            try:
                return cache.get_or_fetch(organization, self.fetch)
            except CacheUnavailable as exc:
                with self._client_lock:  # several organizations read at once: one warning
                    if self.cache is cache:
                        display.warning('stabilityai.platform.stability_balance reads without a cache: %s' % exc)
                        self.cache = None
        return self.fetch(organization)

    def fetch(self, organization):
        with self._client_lock:
            if self._client is None:
                # Imported here so that a cache hit never loads the client.
                from ansible_collections.stabilityai.platform.plugins.module_utils import _client
                self._client = _client.StabilityClient(self.settings)
                for warning in self._client.warnings:
                    display.warning(warning)
        return self._client.fetch_balance(organization)

    def close(self):
        if self._client is not None:
            self._client.close()


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        option_variables = templated_option_variables('lookup', self._load_name, variables, self._templar)
        for warning in unknown_ini_keys():
            display.warning(warning)
        try:
            self._check_raw_options(kwargs, option_variables)
            self.set_options(var_options=option_variables, direct=kwargs)
            return self._read(terms or [])
        except StabilityError as exc:
            raise AnsibleLookupError(exc.msg) from None

    def _check_raw_options(self, direct, option_variables):
        """Refuse unknown keywords, and values Ansible's type conversion would turn into something else.

        Runs before ``set_options``, so the user sees one line naming the option, never
        Ansible's conversion error or, worse, its guess.
        """
        check_keywords('lookup', self._load_name, direct, 'stabilityai.platform.stability_balance')
        check_raw_options(
            lambda name: raw_option_value('lookup', self._load_name, name, direct, option_variables), RAW_CHECKS)

    def _read(self, terms):
        settings = ConnectionSettings.from_options(self.get_option)
        organizations = [clean_organization('organization', term) for term in terms] or [None]
        min_credits = clean_threshold('min_credits', self.get_option('min_credits'))
        warn_below = clean_threshold('warn_below', self.get_option('warn_below'))
        reader = BalanceReader(settings, self._cache(settings))
        try:
            credits = map_concurrently(reader.credits, organizations)
        finally:
            reader.close()

        readings = [(organization_label(organization), value) for organization, value in zip(organizations, credits)]
        warning = shortfall('warn_below', warn_below, readings)
        if warning:
            display.warning(warning)
        failure = shortfall('min_credits', min_credits, readings)
        if failure:
            raise AnsibleLookupError(failure)
        return credits

    def _cache(self, settings):
        ttl = clean_cache_ttl(self.get_option('cache_ttl'))
        scope = clean_cache_scope(self.get_option('cache_scope'))
        if ttl == 0:
            return None
        lock_timeout = max_total_seconds(settings.timeout, settings.retries)
        try:
            return BalanceCache(self.get_option('cache_dir') or default_cache_dir(), ttl, settings, lock_timeout, scope)
        except CacheUnavailable as exc:
            display.warning('stabilityai.platform.stability_balance reads without a cache: %s' % exc)
            return None
