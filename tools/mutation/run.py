# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Mutation testing of the private helpers: the ``mutation`` session of noxfile.py.

Runs mutmut over every ``plugins/module_utils/_*.py`` and ``plugins/plugin_utils/_*.py`` (or the
files named on the command line) with the unit tests, prints per file the mutants, killed,
survived and the score, and fails when the score is under MIN_SCORE.  Mutants listed in
tools/mutation/equivalent.txt (provably unable to change behaviour) are left out of the score;
an entry that matches no mutant fails the run, so the list cannot rot.  See tools/mutation/README.md.

Usage (from the collection root, in the venv of the ``mutation`` session: ``nox -s mutation -- ARGS``):
    python tools/mutation/run.py [--jobs N] [--keep DIR] [--list-survivors] [FILE...]
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

MIN_SCORE = 95.0
HELPER_GLOBS = ('plugins/module_utils/_*.py', 'plugins/plugin_utils/_*.py')
EQUIVALENTS = 'tools/mutation/equivalent.txt'
COLLECTION = os.path.join('ansible_collections', 'stabilityai', 'platform')
# mutmut's exit-code statuses that count as the tests noticing the mutant.  A mutant that makes
# the tests hang (timeout) or crash the interpreter (segfault: killed by a signal) was detected.
DETECTED = ('killed', 'timeout', 'segfault')


def parse_equivalents(path):
    """Entries of the equivalents list: ``PATH FUNCTION`` then indented ``- old``, ``+ new``, ``why: ...`` lines."""
    entries = []
    entry = None
    with open(path, encoding='utf-8') as handle:
        for number, line in enumerate(handle, 1):
            text = line.rstrip('\n')
            if not text.strip() or text.startswith('#'):
                continue
            if not text[0].isspace():
                parts = text.split()
                if len(parts) != 2:
                    raise SystemExit('%s:%d: expected "PATH FUNCTION", got %r' % (path, number, text))
                entry = {'path': parts[0], 'function': parts[1], 'removed': [], 'added': [], 'why': '', 'line': number}
                entries.append(entry)
                continue
            if entry is None:
                raise SystemExit('%s:%d: an indented line before any "PATH FUNCTION" line' % (path, number))
            body = text.strip()
            if body.startswith('why:'):
                entry['why'] = body[4:].strip()
            elif body[:2] in ('- ', '+ ') or body in ('-', '+'):
                entry['removed' if body[0] == '-' else 'added'].append(body[2:].strip())
            else:
                raise SystemExit('%s:%d: expected "- old line", "+ new line" or "why: reason", got %r' % (path, number, body))
    for entry in entries:
        if not entry['why'] or not (entry['removed'] or entry['added']):
            raise SystemExit('%s:%d: an entry needs the changed lines and a "why:" reason' % (path, entry['line']))
    return entries


def line_pattern(text):
    """A listed line as a regular expression: ``{*}`` stands for any text, everything else is literal."""
    return re.compile('^%s$' % '.*'.join(re.escape(part) for part in text.split('{*}')))


def entry_matches(entry, path, function, removed, added):
    if (entry['path'], entry['function'], len(entry['removed']), len(entry['added'])) != (path, function, len(removed), len(added)):
        return False
    return all(line_pattern(want).match(have) for want, have in zip(entry['removed'] + entry['added'], removed + added))


def readable_function(mutant_name):
    """``Class.method`` or ``function`` from a mutmut 3 mutant name (``...xǁClassǁmethod__mutmut_3``)."""
    mangled = mutant_name.partition('__mutmut_')[0].rpartition('.')[2]
    if 'ǁ' in mangled:
        dummy, cls, method = mangled.split('ǁ')
        return '%s.%s' % (cls, method)
    return mangled[2:] if mangled.startswith('x_') else mangled


def changed_lines(diff):
    """The removed and added lines of a unified diff, stripped of their indentation."""
    removed, added = [], []
    for line in diff.splitlines():
        if line.startswith(('---', '+++')):
            continue
        if line.startswith('-'):
            removed.append(line[1:].strip())
        elif line.startswith('+'):
            added.append(line[1:].strip())
    return removed, added


def prepare_workspace(root, workspace, files, jobs):
    """``workspace/ansible_collections/stabilityai/platform``: a copy of the collection, and mutmut's setup.cfg."""
    shutil.copytree(root, os.path.join(workspace, COLLECTION), dirs_exist_ok=True, ignore=shutil.ignore_patterns(
        '.git', '.venv*', '__pycache__', '.hypothesis', 'output', 'mutants', '*.pyc'))
    indent = '\n    '
    with open(os.path.join(workspace, 'setup.cfg'), 'w', encoding='utf-8') as handle:
        handle.write('[mutmut]\n')
        handle.write('source_paths =%s%s\n' % (indent, indent.join(os.path.join(COLLECTION, path) for path in files)))
        handle.write('also_copy =%s%s\n' % (indent, COLLECTION))
        # pytest runs inside mutants/: the collection loader must find the mutated copy there.
        handle.write('pytest_add_cli_args =%s%s\n' % (indent, indent.join([
            '-p', 'ansible_pytest_collections', '-p', 'no:cacheprovider',
            # The same Hypothesis examples in every run, so two runs agree.
            '--hypothesis-seed=0', '-W', 'ignore::DeprecationWarning'])))
        handle.write('pytest_add_cli_args_test_selection =%s%s\n' % (indent, os.path.join(COLLECTION, 'tests', 'unit', 'plugins')))
        handle.write('use_git_change_detection = false\n')


def environment(workspace):
    import ansible_test  # pylint: disable=import-outside-toplevel
    plugins = os.path.join(os.path.dirname(ansible_test.__file__), '_util', 'target', 'pytest', 'plugins')
    env = dict(os.environ)
    env['ANSIBLE_COLLECTIONS_PATH'] = os.path.join(workspace, 'mutants')
    env['ANSIBLE_CONTROLLER_MIN_PYTHON_VERSION'] = '%d.%d' % sys.version_info[:2]
    env['PYTHONPATH'] = os.pathsep.join([plugins, os.path.join(workspace, 'mutants')])
    env['PYTHONHASHSEED'] = '0'
    env.setdefault('STABILITY_HYPOTHESIS_EXAMPLES', '40')  # see tests/unit/plugins/module_utils/test_client_properties.py
    return env


def results(workspace, files):
    """``{file: [(mutant name, status)]}`` from mutmut's .meta files."""
    from mutmut.stats import status_by_exit_code  # pylint: disable=import-outside-toplevel
    found = {}
    for path in files:
        with open(os.path.join(workspace, 'mutants', COLLECTION, path + '.meta'), encoding='utf-8') as handle:
            meta = json.load(handle)
        found[path] = sorted((name, status_by_exit_code[code]) for name, code in meta['exit_code_by_key'].items())
    return found


def diffs_of(workspace, names):
    """The diff of each mutant, as ``mutmut show`` prints it."""
    previous = os.getcwd()
    os.chdir(workspace)
    try:
        from mutmut.mutation.diff_apply import get_diff_for_mutant  # pylint: disable=import-outside-toplevel
        return dict((name, get_diff_for_mutant(name, path=path)) for name, path in names)
    finally:
        os.chdir(previous)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', 1)[0])
    parser.add_argument('files', nargs='*', help='helpers to mutate, relative to the collection root (default: all)')
    parser.add_argument('--jobs', type=int, default=os.cpu_count() or 2, help='mutants tested at once (default: CPU count)')
    parser.add_argument('--keep', metavar='DIR', help='work in DIR and keep it (mutmut reuses verdicts of unchanged functions)')
    parser.add_argument('--list-survivors', action='store_true', help='print the diff of every surviving mutant')
    args = parser.parse_args()

    root = os.getcwd()
    files = args.files or sorted(path for pattern in HELPER_GLOBS for path in glob.glob(pattern))
    if not files:
        raise SystemExit('no helper matches %s under %s' % (' or '.join(HELPER_GLOBS), root))
    equivalents = parse_equivalents(os.path.join(root, EQUIVALENTS))

    workspace = os.path.abspath(args.keep) if args.keep else tempfile.mkdtemp(prefix='stability-mutation-')
    start = time.monotonic()
    try:
        prepare_workspace(root, workspace, files, args.jobs)
        run = subprocess.run([sys.executable, '-m', 'mutmut', 'run', '--max-children', str(args.jobs)],
                             cwd=workspace, env=environment(workspace), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, check=False)
        if run.returncode != 0:
            sys.stdout.write(run.stdout[-6000:])
            raise SystemExit('mutation: mutmut run failed (exit %d)' % run.returncode)
        found = results(workspace, files)
        missed = [(name, os.path.join(COLLECTION, path)) for path, mutants in found.items()
                  for name, status in mutants if status not in DETECTED]
        # A mutant of the equivalents list can still time out on a loaded machine (mutmut counts that
        # as killed): its entry is not stale for that, so timed-out mutants are matched too.
        timed_out = [(name, os.path.join(COLLECTION, path)) for path, mutants in found.items()
                     for name, status in mutants if status == 'timeout']
        diffs = diffs_of(workspace, missed + timed_out)
    finally:
        if not args.keep:
            shutil.rmtree(workspace, ignore_errors=True)

    # Survivors that an entry of the equivalents list names are excluded from the score.
    file_of = dict((name, path) for path, mutants in found.items() for name, dummy in mutants)
    excluded, used = set(), set()
    for name, dummy in missed + timed_out:
        removed, added = changed_lines(diffs[name])
        for index, entry in enumerate(equivalents):
            if entry_matches(entry, file_of[name], readable_function(name), removed, added):
                used.add(index)
                if (name, dummy) in missed:
                    excluded.add(name)
    stale = [entry for index, entry in enumerate(equivalents) if index not in used and
             (not args.files or entry['path'] in files)]

    total_mutants = total_killed = total_excluded = 0
    print('%-40s %8s %8s %9s %9s %7s' % ('FILE', 'MUTANTS', 'KILLED', 'SURVIVED', 'EXCLUDED', 'SCORE'))
    for path, mutants in found.items():
        killed = sum(1 for name, status in mutants if status in DETECTED)
        skipped = sum(1 for name, status in mutants if name in excluded)
        counted = len(mutants) - skipped
        score = 100.0 * killed / counted if counted else 100.0
        print('%-40s %8d %8d %9d %9d %6.1f%%' % (path, len(mutants), killed, counted - killed, skipped, score))
        total_mutants += len(mutants)
        total_killed += killed
        total_excluded += skipped
    counted = total_mutants - total_excluded
    score = 100.0 * total_killed / counted if counted else 100.0

    survivors = [name for name, dummy in missed if name not in excluded]
    if args.list_survivors:
        for name in survivors:
            status = dict(found[file_of[name]])[name]
            print('\n# %s %s (%s)\n%s' % (file_of[name], readable_function(name), status, diffs[name]))
    elif survivors:
        print('\nsurvivors (python tools/mutation/run.py --list-survivors FILE shows their diffs):')
        for name in survivors:
            print('  %s' % name)
    for entry in stale:
        print('\n%s:%d: no mutant matches this entry (%s %s); remove or update it' % (
            EQUIVALENTS, entry['line'], entry['path'], entry['function']))
    print('\nmutation: %d mutants excluded as equivalent (%s); run time %d s' % (
        total_excluded, EQUIVALENTS, time.monotonic() - start))
    print('mutation: score %.1f%% (%d killed of %d)' % (score, total_killed, counted))
    if stale:
        return 1
    return 0 if score >= MIN_SCORE else 1


if __name__ == '__main__':
    sys.exit(main())
