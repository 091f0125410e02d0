# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the nox sessions of noxfile.py share, kept out of the noxfile so that it reads as a list of steps.

* Which ansible-core line and Python the product's own tests run on: the newest line on the newest
  Python 3.12+ this machine has (pyenv's versions folder or PATH; nothing is downloaded), else the
  oldest line on Python 3.11.  The lines and their Pythons are the files ``tests/requirements/``
  ``ansible-core-X.Y.txt`` (their ``# python-version:`` line).
* Where the suite writes: everything under ``.nox/`` of the checkout (the session venvs nox makes, and
  ``.nox/scratch/``: HOME of the tools, TMPDIR, the collection cache, the collection copies), so
  that ``rm -rf .nox`` removes all of it and nothing lands in the user's home but pip's download cache.
* The copy of the checkout laid out as ``ansible_collections/stabilityai/platform`` that ansible-test
  insists on, and the offline stand-in for the get-pip script ansible-test downloads.

Standard library only: ``tests/run-tests.sh`` runs ``python3 tools/harness.py banner`` before nox
is installed (``--help`` lists the commands).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NAMESPACE, NAME = 'stabilityai', 'platform'
SCRATCH = REPO / '.nox' / 'scratch'
HOME = SCRATCH / 'home'
TMP = SCRATCH / 'tmp'
CACHE = SCRATCH / 'cache'
COPIES = SCRATCH / 'collections'
LINE_FILES = REPO / 'tests' / 'requirements'
LOCK = REPO / 'tools' / 'requirements-lock.txt'
GET_PIP_STANDIN = REPO / 'tools' / 'get_pip_standin.py'
# The Python of the tool sessions (docs, lint, molecule, ...): the one tools/requirements-lock.txt is resolved for.
TOOLS_PYTHON = '3.11'
# The oldest Python a current ansible-core line (2.20 on) needs on the controller.
NEWER_PYTHON = (3, 12)
EXPECTED_ERRORS_NOTE = ('note: the "[ERROR]: ... ignoring" lines in the integration output are the failures the targets '
                        'provoke on purpose (bad input, faults, rate limits) and then assert on; a real failure fails the session.')


def version_key(text):
    return tuple(int(part) for part in text.split('.'))


def lines():
    """``{line: python}`` from tests/requirements/ansible-core-LINE.txt, oldest line first."""
    found = {}
    for path in LINE_FILES.glob('ansible-core-*.txt'):
        match = re.search(r'^# python-version: *(\d+\.\d+) *$', path.read_text(encoding='utf-8'), re.MULTILINE)
        if not match:
            raise SystemExit('%s: no "# python-version: X.Y" line' % path.relative_to(REPO))
        found[path.stem[len('ansible-core-'):]] = match.group(1)
    if not found:
        raise SystemExit('no tests/requirements/ansible-core-*.txt')
    return dict(sorted(found.items(), key=lambda item: version_key(item[0])))


def line_requirements(line):
    return LINE_FILES / ('ansible-core-%s.txt' % line)


def _pyenv_root():
    root = os.environ.get('PYENV_ROOT')
    if not root:
        try:
            root = subprocess.run(['pyenv', 'root'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            root = os.path.expanduser('~/.pyenv')
    return root


def find_python(version):
    """The path of a working ``pythonX.Y``: pyenv's versions folder first (its shims may refuse), then PATH."""
    candidates = sorted(glob.glob(os.path.join(_pyenv_root(), 'versions', version + '*', 'bin', 'python' + version)), reverse=True)
    on_path = shutil.which('python' + version)
    if on_path:
        candidates.append(on_path)
    for candidate in candidates:
        try:
            result = subprocess.run([candidate, '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if result.returncode == 0 and result.stdout.strip() == version:
            return candidate
    return None


def pythons():
    """``{X.Y: path}`` of the Pythons the lines need that this machine has (and the tools' Python)."""
    wanted = set(lines().values()) | {TOOLS_PYTHON}
    found = {}
    for version in sorted(wanted, key=version_key):
        path = find_python(version)
        if path:
            found[version] = path
    return found


def choose(found=None):
    """``(line, python)`` for the product's own tests: the newest line on the newest Python 3.12+ found,
    else the oldest line on its own Python."""
    found = pythons() if found is None else found
    known = lines()
    newer = [version for version in found if version_key(version) >= NEWER_PYTHON]
    if newer:
        return list(known)[-1], max(newer, key=version_key)
    oldest = list(known)[0]
    return oldest, known[oldest]


def matrix(found=None):
    """The matrix lines the default run adds: every line but the chosen one whose Python is here (none with
    STABILITY_VENV: then every session runs in that one venv)."""
    if os.environ.get('STABILITY_VENV'):
        return []
    found = pythons() if found is None else found
    chosen = choose(found)[0]
    return [line for line, python in lines().items() if line != chosen and python in found]


def banner(found=None):
    if os.environ.get('STABILITY_VENV'):
        return ('tests/run-tests.sh: STABILITY_VENV=%s: every session runs with its Python and ansible-core '
                '(nox --no-venv --no-install); no matrix; docs-check fails (it needs a venv of its own)' % os.environ['STABILITY_VENV'])
    found = pythons() if found is None else found
    line, python = choose(found)
    text = 'tests/run-tests.sh: ansible-core %s on Python %s (%s)' % (line, python, found.get(python, 'not found'))
    text += ' for sanity, units and integration'
    if version_key(python) < NEWER_PYTHON:
        text += ' (no Python 3.12 or newer here, so not the newest line)'
    others = ', '.join('%s on %s' % (other, lines()[other]) for other in matrix(found))
    missing = ', '.join('%s (needs Python %s)' % (other, python_) for other, python_ in lines().items()
                        if other != line and python_ not in found)
    text += '; matrix: %s' % (others or 'none')
    if missing:
        text += '; left out: %s' % missing
    return text


def prepare_environment():
    """Point everything the tools write at .nox/scratch and make the lines' Pythons findable by nox.

    HOME moves (ansible-test keeps its venvs and an SSH key pair under ~/.ansible/test, molecule
    installs the collection into ~/.ansible/collections, and the collection's own cache defaults to
    ~/.cache/stabilityai.platform); the user's pip configuration is linked in so that pip keeps its
    index settings, and pip's download cache stays where pip keeps it.
    """
    real_home = os.path.expanduser('~')
    found = pythons()
    for path in (HOME, TMP, CACHE, COPIES):
        path.mkdir(parents=True, exist_ok=True)
    for config in ('.config/pip', '.pip'):
        source, link = Path(real_home) / config, HOME / config
        if source.is_dir() and not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(source)
    os.environ.setdefault('PIP_CACHE_DIR', os.path.join(os.environ.get('XDG_CACHE_HOME') or os.path.join(real_home, '.cache'), 'pip'))
    # TMPDIR lies inside the checkout: a git run in a folder made there (antsibull-nox's collection copy for
    # docs-check, whose antsibull-docs lists the collection's files with git) must not find the checkout's
    # repository, where .nox/ is ignored and the copy's files therefore do not exist.
    ceiling = os.environ.get('GIT_CEILING_DIRECTORIES')
    os.environ.update(
        GIT_CEILING_DIRECTORIES=os.pathsep.join([str(TMP)] + ([ceiling] if ceiling else [])),
        HOME=str(HOME),
        TMPDIR=str(TMP),
        XDG_CACHE_HOME=str(HOME / '.cache'),
        STABILITY_CACHE_DIR=str(CACHE),
        PIP_DISABLE_PIP_VERSION_CHECK='1',
    )
    # nox finds "python3.13" on PATH; pyenv's shims may refuse a version that is not selected.  With
    # STABILITY_VENV every session runs that venv's python, first on PATH, and needs no other.
    if not os.environ.get('STABILITY_VENV'):
        os.environ['PATH'] = os.pathsep.join([os.path.dirname(path) for path in found.values()] + [os.environ.get('PATH', os.defpath)])
    # ansible-core refuses to run without a UTF-8 locale.
    if 'utf' not in (os.environ.get('LC_ALL') or os.environ.get('LC_CTYPE') or os.environ.get('LANG') or '').lower():
        os.environ['LC_ALL'] = 'C.UTF-8'
    # The caller's Ansible settings stay out of the run.
    for name in ('ANSIBLE_COLLECTIONS_PATHS', 'ANSIBLE_COLLECTIONS_PATH', 'ANSIBLE_CONFIG'):
        os.environ.pop(name, None)
    return found


def git_files():
    """The checkout's files as git sees them: tracked, and untracked but not ignored."""
    output = subprocess.run(['git', '-C', str(REPO), 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                            stdout=subprocess.PIPE, check=True).stdout.decode('utf-8')
    return sorted(path for path in set(output.split('\0')) if path and os.path.lexists(REPO / path))


def collection_copy(label):
    """A fresh copy of the checkout at .nox/scratch/collections/LABEL/ansible_collections/NS/NAME, as a git
    repository (ansible-test sanity looks at the files git knows).  Returns its path; the copy stays for
    reading ansible-test's results (its tests/output) until the session runs again."""
    root = COPIES / re.sub(r'[^A-Za-z0-9_.-]+', '-', label)
    shutil.rmtree(root, ignore_errors=True)
    dest = root / 'ansible_collections' / NAMESPACE / NAME
    files = git_files()
    for path in files:
        source, target = REPO / path, dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    git = ['git', '-C', str(dest), '-c', 'init.defaultBranch=main', '-c', 'user.name=nox', '-c', 'user.email=nox@localhost',
           '-c', 'commit.gpgsign=false']
    subprocess.run(git + ['init', '-q'], check=True)
    subprocess.run(git + ['add', '-f', '--pathspec-from-file=-', '--pathspec-file-nul'], input='\0'.join(files).encode('utf-8'), check=True)
    subprocess.run(git + ['commit', '-q', '--no-verify', '--allow-empty', '-m', 'snapshot for nox'], check=True)
    return dest


GET_PIP_PIN = """
import pathlib, re, ansible_test
source = pathlib.Path(ansible_test.__file__).parent / '_internal' / 'python_requirements.py'
match = re.search(r'''\\bpip=['"]([0-9][^'"]*)['"]''', source.read_text())
print(match.group(1) if match else '')
"""


def install_get_pip_standin(python):
    """ansible-test bootstraps pip into each venv it makes (any Python) with a get-pip script it downloads
    from an Ansible host, unless ~/.ansible/test/cache/get_pip_<its pip pin>.py exists: put the stand-in
    there for the pin of the ansible-test that ``python`` runs."""
    pin = subprocess.run([python, '-c', GET_PIP_PIN], stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
    if not pin:
        raise SystemExit("cannot find ansible-test's pip pin in python_requirements.py")
    target = Path(os.path.expanduser('~/.ansible/test/cache')) / ('get_pip_%s.py' % pin.replace('.', '_'))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(GET_PIP_STANDIN, target)
    return target


def main(argv):
    usage = ('usage: tools/harness.py banner | chosen | python X.Y\n'
             '  banner    the line tests/run-tests.sh prints first: the ansible-core line and Python it tests on, and the matrix\n'
             '  chosen    that line and the path of its Python, on one line (tests/run-demo.sh)\n'
             '  python    the path of a working pythonX.Y (pyenv versions folder or PATH), exit 1 if none')
    if argv[:1] == ['banner'] and len(argv) == 1:
        print(banner())
        print(EXPECTED_ERRORS_NOTE)
        return 0
    if argv[:1] == ['chosen'] and len(argv) == 1:
        found = pythons()
        line, python = choose(found)
        print(line, found[python])
        return 0
    if argv[:1] == ['python'] and len(argv) == 2:
        path = find_python(argv[1])
        if path:
            print(path)
            return 0
        print('no working python%s on PATH or in pyenv\'s versions folder' % argv[1], file=sys.stderr)
        return 1
    print(usage, file=sys.stdout if argv[:1] in (['-h'], ['--help']) else sys.stderr)
    return 0 if argv[:1] in (['-h'], ['--help']) else 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
