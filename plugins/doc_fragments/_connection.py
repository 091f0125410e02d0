# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This doc fragment is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not use it from other content.

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """The connection options every plugin of the collection shares, described once.

    The facts these texts repeat from the code (defaults, environment variable names, the retry
    bounds) are checked against it by tests/unit/plugins/doc_fragments/test_connection.py.
    """

    # Every plugin: each option's one description.  Modules read the environment variables on
    # the host that runs the module.
    DOCUMENTATION = r'''
options:
  api_key:
    description:
      - "The Stability AI API key (C(sk-...)), sent as C(Authorization: Bearer <key>)."
      - If not set, the value of the E(STABILITY_API_KEY) environment variable is used, then E(STABILITY_KEY)
        (the name the vendor's SDK reads).
      - Surrounding white space is removed; a key with a control character (such as a line break) is refused before
        anything is sent. The key never appears in results, warnings, errors, logs or the lookup's cache.
      - Set it once for all modules of the collection with the C(group/stabilityai.platform.stability) module defaults group.
    type: str
  api_url:
    description:
      - Base URL of the Stability API, without the version.
      - A trailing C(/v1) or C(/v1alpha) that is the same as O(api_version), as the vendor's docs write the URL
        (C(https://api.stability.ai/v1)), is dropped, and so is a trailing slash; a trailing version that differs
        from O(api_version) is refused before anything is sent.
      - If not set, the value of the E(STABILITY_API_URL) environment variable is used, and otherwise C(https://api.stability.ai).
      - Must be C(https://) with a host. Plain C(http://) is accepted only when the host as written is C(localhost),
        a C(127.x.x.x) address or C([::1]) (for the bundled simulator), since the key would otherwise travel in clear text.
    type: str
  api_version:
    description:
      - Version of the user endpoints, C(/v1/user/...) or the deprecated C(/v1alpha/user/...).
      - If not set, the value of the E(STABILITY_API_VERSION) environment variable is used, and otherwise C(v1).
    type: str
    choices: [v1, v1alpha]
  timeout:
    description:
      - Seconds one request may take, from connecting to the last byte of the answer, by the wall clock; a server that
        sends slowly (a byte at a time) is cut off after this long, like one that does not answer.
      - Greater than 0 and at most 600 (ten minutes); the bound keeps the time of a call finite.
    type: float
    default: 30
  retries:
    description:
      - How many times a request is repeated after a connection error, a time-out or an HTTP 429, 500, 502, 503 or 504.
      - Waits between attempts grow exponentially (0.5, 1, 2, 4, 8 s, with jitter); a C(Retry-After) header sent by
        the server is honoured up to 60 seconds. Other HTTP errors are never retried.
      - One call therefore takes at most (O(retries) + 1) times O(timeout), plus O(retries) times 60 seconds, plus up to
        60 seconds waiting for its turn under O(rate_limit) or for a lock-out to end.
      - A whole number from 0 to 10.
    type: int
    default: 3
  validate_certs:
    description:
      - Whether to verify the TLS certificate of O(api_url). Set to V(false) only for a test server; a warning says so.
    type: bool
    default: true
  ca_path:
    description:
      - Path to a PEM file of CA certificates to verify the server against instead of the system's CA store
        (OpenSSL's default paths), for example behind a TLS-inspecting proxy.
    type: path
  rate_limit:
    description:
      - "The request budget per API key, as C(N/S): at most N requests (1 to 1000) in any S seconds (at most 3600),
        shared by every process of the same user on the host that sends them: all tasks, forks, plays and lookups
        that run on the controller."
      - If not set, the value of the E(STABILITY_RATE_LIMIT) environment variable is used, and otherwise C(100/10), so one
        controller never sends more than 100 requests in any 10 seconds with one key; the API allows 150 requests per
        10 seconds and then refuses the caller for 60 seconds.
      - A request over the budget waits for its turn, at most 60 seconds and only within the bound of its call (see
        O(retries)); a turn further away fails at once with a message naming O(rate_limit) and when the turn comes.
        When the API answers that it refuses the key for a while, no process of the user on that host sends with the
        key until that ends; a task whose bound ends earlier fails at once with a message naming the end.
      - The budget and the lock-out live in the per-user directory the E(STABILITY_CACHE_DIR) environment variable names,
        otherwise C($XDG_CACHE_HOME/stabilityai.platform) (or C(~/.cache/stabilityai.platform)), mode 0700, in a 0600 file
        named by a keyed hash, so the key is never stored. Modules and lookups see the same environment, so they share
        one budget. When that directory cannot be used, each task keeps to the budget on its own and a warning says so.
      - V(0) turns the guard off. Modules that run on other hosts, and other controllers, each have their own budget.
    type: str
notes:
  - All requests carry C(Stability-Client-ID) and C(Stability-Client-Version) headers and a matching C(User-Agent)
    that identify this collection to Stability AI.
  - The proxy environment variables E(https_proxy) or E(HTTPS_PROXY), E(all_proxy) or E(ALL_PROXY), and E(no_proxy) or
    E(NO_PROXY) are honoured for an C(https://) O(api_url); the proxy then sees only the host name (C(CONNECT)), never
    the key. The proxy must be an C(http://) URL; an C(https://) or SOCKS proxy URL fails at once with one line naming
    the variables. A plain C(http://) O(api_url) (loopback only) never goes through a proxy, whatever E(HTTP_PROXY) or
    E(ALL_PROXY) say, as the proxy would read the key in clear text. C(.netrc) and E(REQUESTS_CA_BUNDLE) are not
    honoured; use O(ca_path) for a private CA.
  - Redirects are not followed, so the key is only ever sent to O(api_url).
'''

    # Controller-side plugins (lookups, the callback): list this after DOCUMENTATION.  It adds only
    # where else the options come from (ansible-core merges fragments option by option) and the
    # defaults that modules cannot declare (there, a default would hide the environment variable).
    # The key is never read from ansible.cfg: that file is rarely a secret.  The env: lists are
    # _settings.ENVIRONMENT_VARIABLES in Ansible's order, where the LAST variable set wins: so
    # STABILITY_KEY comes first, and STABILITY_API_KEY wins as it does in modules (a test holds them to it).
    CONTROLLER = r'''
options:
  api_key:
    env:
      - name: STABILITY_KEY
      - name: STABILITY_API_KEY
  api_url:
    default: https://api.stability.ai
    env:
      - name: STABILITY_API_URL
    ini:
      - section: stabilityai_platform
        key: api_url
  api_version:
    default: v1
    env:
      - name: STABILITY_API_VERSION
    ini:
      - section: stabilityai_platform
        key: api_version
  timeout:
    ini:
      - section: stabilityai_platform
        key: timeout
  retries:
    ini:
      - section: stabilityai_platform
        key: retries
  validate_certs:
    ini:
      - section: stabilityai_platform
        key: validate_certs
  ca_path:
    ini:
      - section: stabilityai_platform
        key: ca_path
  rate_limit:
    default: 100/10
    env:
      - name: STABILITY_RATE_LIMIT
    ini:
      - section: stabilityai_platform
        key: rate_limit
notes:
  - Except O(api_key), the connection options are also read from the C([stabilityai_platform]) section of
    C(ansible.cfg); the environment wins over C(ansible.cfg).
  - A key in the collection's own sections of C(ansible.cfg) (C([stabilityai_platform]), C([callback_credit_recap]))
    that no option knows gets one warning naming it and the closest known key; it is ignored, not refused, since
    C(ansible.cfg) is shared with other tools.
'''

    # Plugins that see play variables (lookups; a callback does not): list this after CONTROLLER.
    PLUGINS = r'''
options:
  api_key:
    vars:
      - name: stability_api_key
  api_url:
    vars:
      - name: stability_api_url
  api_version:
    vars:
      - name: stability_api_version
  timeout:
    vars:
      - name: stability_timeout
  retries:
    vars:
      - name: stability_retries
  validate_certs:
    vars:
      - name: stability_validate_certs
  ca_path:
    vars:
      - name: stability_ca_path
  rate_limit:
    vars:
      - name: stability_rate_limit
notes:
  - The connection options are also read from variables (C(stability_api_key), C(stability_api_url), ...); a variable
    wins over the environment and C(ansible.cfg), and a keyword over all of them.
'''
