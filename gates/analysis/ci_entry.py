"""CI entry points (the spec's ``ci_entry_points``): an edit may not run ``gates check`` less.

The integrity gate judges every entry point a change edits, base version against head version:

- **shell scripts** (``.ci/run``): read as logical lines (``\\`` continuations and multi-line
  quotes joined, whole-line comments dropped) tokenized with ``shlex``. A command that names a
  gates executable (``.../gates``, ``$gates``, ``python -m gates``) is a *gates run*; bash arrays
  it expands (``args=(check --tier "$TIER")``, ``args+=(--base "$BASE_SHA")``, then
  ``gates "${args[@]}"``) are expanded in order, and the lines that only build such an array are
  judged through the run they feed. Every gates run of the base must still be there, in the same
  place and with the same surroundings on its line (no ``|| true``, ``|| :``, ``!``, pipe or
  ``&`` added), and not weaker: a ``check`` keeps a tier at least as high (pre-commit < ci <
  full; an expression such as ``"$TIER"`` must stay the same), adds no ``--gate`` narrowing (a
  narrowed base may only widen), keeps ``--base`` with the same value and every other option.
  Any other run of gates must stay token for token.
- Everything else in the script must stay as the base has it, command for command: a new
  ``set +e``, ``exit 0``, ``trap``, ``if false; then`` or a changed install line could skip the
  run or swallow its failure, and this rule does not try to prove which edits could not. Only
  whole-line comments and plain ``echo``/``printf`` lines (no command substitution, no
  redirection but ``>&2``) may change freely.
- **GitHub workflows** (``.yml``/``.yaml`` with ``jobs``): the top-level keys other than
  ``name``, ``run-name``, ``permissions`` and ``jobs`` (``on``, ``env``, ``defaults``) stay as the
  base has them; every job of the base that runs gates stays, with its keys (``if``,
  ``continue-on-error``, ``env``, ``runs-on``, ...) other than ``name``, ``permissions``,
  ``concurrency`` and ``timeout-minutes``; its steps up to the last one that runs gates stay in
  number and order, each with the same keys but ``name`` (``if: false`` or
  ``continue-on-error: true`` is refused), and each ``run:`` script is judged as a shell script
  above. Steps after the last gates step and jobs that never ran gates may change.

This is conservative on purpose: an unchanged file and a comment or echo edit pass; anything the
rule cannot show to run the same gates or stronger is refused with one finding (file, line, what
changed, how to restore the base's version).
"""
from __future__ import annotations

import dataclasses
import difflib
import re
import shlex
from collections.abc import Sequence
from typing import Any

from gates import model
from gates.contract.located import compose

GATE = 'integrity'
TIER_RANK = {'pre-commit': 0, 'ci': 1, 'full': 2}
DEFAULT_TIER = 'ci'            # `gates check` without --tier (gates/cli.py)
_PUNCT = set('();<>|&')
_ARRAY_SET = re.compile(r'^([A-Za-z_]\w*)(\+?)=$')
_ARRAY_USE = re.compile(r'^\$\{([A-Za-z_]\w*)\[[@*]\]\}$')
_ASSIGN = re.compile(r'^[A-Za-z_]\w*\+?=')
_OPTION = re.compile(r'^(--tier|--gate|--base)(?:=(.*))?$')


@dataclasses.dataclass(frozen=True)
class Problem:
    line: int                  # 1-based line in the head file
    what: str
    about_run: bool = False    # a gates run removed, weakened or swallowed (reported first)


@dataclasses.dataclass(frozen=True)
class Run:
    """One command that runs gates: what precedes the gates word, the word, its arguments
    (arrays expanded)."""
    prefix: tuple[str, ...]
    program: str
    args: tuple[str, ...]

    @property
    def subcommand(self) -> str:
        return self.args[0] if self.args else ''

    def shown(self) -> str:
        return shlex.join(self.prefix + (self.program,) + self.args)


@dataclasses.dataclass(frozen=True)
class Unit:
    """A logical line that counts: a plain command line, or a line with gates runs."""
    line: int
    tokens: tuple[str, ...]
    runs: tuple[Run, ...] = ()
    context: tuple[str, ...] = ()     # the line's tokens with each run replaced by <gates>

    def key(self) -> tuple[Any, ...]:
        if self.runs:
            return ('gates', self.context, tuple((r.prefix, r.program, r.subcommand) for r in self.runs))
        return ('line', self.tokens)

    def shown(self) -> str:
        text = ' '.join(self.tokens)
        return text if len(text) <= 90 else text[:87] + '...'


class Unreadable(ValueError):
    def __init__(self, line: int, why: str) -> None:
        super().__init__(why)
        self.line = line


# ---------------------------------------------------------------------------------------------
# Shell


def _tokens(text: str) -> list[str]:
    lex = shlex.shlex(text, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    lex.commenters = ''    # bash starts a comment only at a word's start; whole lines are dropped before
    return list(lex)


def _continued(line: str) -> bool:
    stripped = line.rstrip('\r')
    return (len(stripped) - len(stripped.rstrip('\\'))) % 2 == 1


def logical_lines(text: str, first_line: int = 1) -> list[tuple[int, list[str]]]:
    """(line, tokens) per logical line; whole-line comments and blank lines dropped."""
    lines = text.split('\n')
    out: list[tuple[int, list[str]]] = []
    i = 0
    while i < len(lines):
        start, chunk = i, lines[i]
        i += 1
        if not chunk.strip() or chunk.lstrip().startswith('#'):
            continue
        while True:
            if _continued(chunk) and i < len(lines):
                chunk = chunk.rstrip('\r')[:-1] + ' ' + lines[i]
                i += 1
                continue
            try:
                tokens = _tokens(chunk)
            except ValueError as e:
                if i < len(lines):          # a quote that spans lines
                    chunk += '\n' + lines[i]
                    i += 1
                    continue
                raise Unreadable(first_line + start, f'cannot be read as a shell script ({e})') from None
            break
        if tokens:
            out.append((first_line + start, tokens))
    return out


def _is_operator(token: str) -> bool:
    return bool(token) and set(token) <= _PUNCT


def _is_separator(token: str) -> bool:
    return _is_operator(token) and not set(token) & {'<', '>'}


def _inert(tokens: Sequence[str]) -> bool:
    """A plain echo/printf: output only (no substitution, no redirection but to stderr)."""
    if tokens[0] not in ('echo', 'printf'):
        return False
    for j, tok in enumerate(tokens):
        if '$(' in tok or '`' in tok:
            return False
        if _is_operator(tok) and not (tok == '>&' and j + 1 < len(tokens) and tokens[j + 1] == '2'):
            return False
    return True


def _gates_word(token: str) -> bool:
    name = token.rstrip('/').rsplit('/', 1)[-1].strip('${}')
    return name.lower() == 'gates'


def _array_assignment(tokens: Sequence[str], at: int) -> tuple[str, bool, list[str], int] | None:
    """(name, append, items, index after ``)``) when an array assignment starts at ``at``."""
    match = _ARRAY_SET.match(tokens[at])
    if match is None or at + 1 >= len(tokens) or tokens[at + 1] != '(':
        return None
    items: list[str] = []
    j = at + 2
    while j < len(tokens) and not tokens[j].startswith(')'):
        items.append(tokens[j])
        j += 1
    return match.group(1), match.group(2) == '+', items, j + 1


def _only_assignments(tokens: Sequence[str]) -> bool:
    """Whether a logical line does nothing but assign arrays (``a=(x y); a+=(z)``)."""
    at = 0
    while at < len(tokens):
        assignment = _array_assignment(tokens, at)
        if assignment is None:
            return False
        at = assignment[3]
        if at - 1 < len(tokens) and tokens[at - 1] not in (')', ');'):
            return False            # `)` glued to another operator: `) &&`, `)|`
        while at < len(tokens) and tokens[at] == ';':
            at += 1
    return True


def _commands(tokens: Sequence[str]) -> list[tuple[int, int]]:
    """[start, end) spans of the simple commands of a logical line."""
    spans, start = [], 0
    for j, tok in enumerate(tokens):
        if _is_separator(tok):
            if j > start:
                spans.append((start, j))
            start = j + 1
    if len(tokens) > start:
        spans.append((start, len(tokens)))
    return spans


@dataclasses.dataclass
class Script:
    units: list[Unit]
    has_runs: bool
    end: int                   # the script's last line


def read_script(text: str, first_line: int = 1) -> Script:
    """The units of a shell script (raises Unreadable)."""
    arrays: dict[str, list[str]] = {}
    used: set[str] = set()
    parsed: list[tuple[int, list[str], list[tuple[int, int, Run]], list[str]]] = []
    for line, tokens in logical_lines(text, first_line):
        runs: list[tuple[int, int, Run]] = []
        assigned: list[str] = []
        skip_to = 0
        for start, end in _commands(tokens):
            if start < skip_to:
                continue            # inside an array's parentheses
            assignment = _array_assignment(tokens, start)
            if assignment is not None:
                name, append, items, skip_to = assignment
                arrays[name] = (arrays.get(name, []) if append else []) + items
                assigned.append(name)
                continue
            words = tokens[start:end]
            at = next((k for k, w in enumerate(words) if _gates_word(w) and not _ASSIGN.match(w)), None)
            if at is None or _inert(words):
                continue
            args: list[str] = []
            for w in words[at + 1:]:
                use = _ARRAY_USE.match(w)
                if use is not None and use.group(1) in arrays:
                    used.add(use.group(1))
                    args += arrays[use.group(1)]
                else:
                    args.append(w)
            runs.append((start, end, Run(tuple(words[:at]), words[at], tuple(args))))
        parsed.append((line, tokens, runs, assigned))
    units: list[Unit] = []
    for line, tokens, runs, assigned in parsed:
        if _inert(tokens):
            continue
        if not runs and assigned and set(assigned) <= used and _only_assignments(tokens):
            continue        # judged through the gates run that expands it
        if not runs:
            units.append(Unit(line, tuple(tokens)))
            continue
        context: list[str] = []
        last = 0
        for start, end, _run in runs:
            context += tokens[last:start] + ['<gates>']
            last = end
        context += tokens[last:]
        units.append(Unit(line, tuple(tokens), tuple(r for _, _, r in runs), tuple(context)))
    return Script(units, any(u.runs for u in units), first_line + len(text.rstrip('\n').split('\n')) - 1)


def _check_options(args: Sequence[str]) -> tuple[str, list[str], str | None, list[str]]:
    """(tier, gates, base, other args) of ``check ...``."""
    tier, gates, base, other = DEFAULT_TIER, [], None, []
    j = 1
    while j < len(args):
        match = _OPTION.match(args[j])
        if match is None:
            other.append(args[j])
            j += 1
            continue
        if match.group(2) is not None:
            value = match.group(2)
            j += 1
        else:
            value = args[j + 1] if j + 1 < len(args) else ''
            j += 2
        if match.group(1) == '--tier':
            tier = value
        elif match.group(1) == '--gate':
            gates.append(value)
        else:
            base = value
    return tier, gates, base, other


def weaker(base: Run, head: Run) -> str | None:
    """Why ``head`` runs less than ``base``, or None."""
    if base.prefix != head.prefix or base.program != head.program:
        return f'runs `{head.shown()}` instead of `{base.shown()}`'
    if base.subcommand != 'check' or head.subcommand != 'check':
        return None if base.args == head.args else f'`{base.shown()}` became `{head.shown()}`'
    b_tier, b_gates, b_base, b_other = _check_options(base.args)
    h_tier, h_gates, h_base, h_other = _check_options(head.args)
    if b_tier != h_tier:
        if b_tier not in TIER_RANK or h_tier not in TIER_RANK:
            return f'its tier changed from {b_tier} to {h_tier}'
        if TIER_RANK[h_tier] < TIER_RANK[b_tier]:
            return f'its tier was lowered from {b_tier} to {h_tier}'
    if h_gates and (not b_gates or not set(b_gates) <= set(h_gates)):
        dropped = sorted(set(b_gates) - set(h_gates)) if b_gates else []
        was = ' '.join(f'--gate {g}' for g in b_gates) if b_gates else 'every gate of the tier'
        now = ' '.join(f'--gate {g}' for g in h_gates)
        extra = f' (dropped: {", ".join(dropped)})' if dropped else ''
        return f'it was narrowed from {was} to {now}{extra}'
    if b_base is not None and h_base != b_base:
        return f'--base {b_base} was dropped' if h_base is None else f'--base changed from {b_base} to {h_base}'
    if b_other != h_other:
        return f'its other arguments changed from [{" ".join(b_other)}] to [{" ".join(h_other)}]'
    return None


def _context_change(base: Unit, head: Unit) -> str:
    added = [t for t in head.context if t not in base.context]
    swallow = [t for t in head.context if t in ('||', '|', '&', '|&', '!')]
    if '||' in added or ('||' in swallow and '||' not in base.context):
        return f'a failure handler was added around it (`{head.shown()}`): `||` swallows its exit status'
    return f'its line changed around it (`{base.shown()}` -> `{head.shown()}`)'


def compare_scripts(base: Script, head: Script, base_offset: int = 0) -> list[Problem]:
    """What in ``head`` runs less than ``base`` (empty when nothing does)."""
    out: list[Problem] = []
    b_keys = [u.key() for u in base.units]
    h_keys = [u.key() for u in head.units]
    matcher = difflib.SequenceMatcher(a=b_keys, b=h_keys, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == 'equal':
            for b, h in zip(base.units[i1:i2], head.units[j1:j2]):
                for br, hr in zip(b.runs, h.runs):
                    why = weaker(br, hr)
                    if why is not None:
                        out.append(Problem(h.line, f'`{br.shown()}` is weakened: {why}', True))
            continue
        old, new = base.units[i1:i2], head.units[j1:j2]
        # A run whose surroundings changed lines up with its base: say what changed around it.
        if op == 'replace' and len(old) == len(new) and all(o.runs and n.runs for o, n in zip(old, new)):
            for o, n in zip(old, new):
                if o.context != n.context:
                    out.append(Problem(n.line, f'`{o.runs[0].shown()}`: {_context_change(o, n)}', True))
                else:
                    out.append(Problem(n.line, f'`{o.shown()}` became `{n.shown()}`', True))
            continue
        # Where a removed unit was: the head's next unit, else the head's last line.
        at = new[0].line if new else (head.units[j2].line if j2 < len(head.units) else head.end)
        for o in old:
            if o.runs:
                out.append(Problem(at, f'`{o.runs[0].shown()}` (line {o.line} of the base) was removed', True))
        if any(o.runs for o in old):
            continue
        if new:
            what = 'changed' if old else 'added'
            was = f' (the base has `{old[0].shown()}` at line {old[0].line})' if old else ''
            out.append(Problem(new[0].line, f'`{new[0].shown()}` was {what}{was}'))
        else:
            out.append(Problem(at, f'`{old[0].shown()}` (line {old[0].line} of the base) was removed'))
    return out


# ---------------------------------------------------------------------------------------------
# Workflows

_FREE_TOP = {'name', 'run-name', 'permissions', 'jobs'}
_FREE_JOB = {'name', 'steps', 'permissions', 'concurrency', 'timeout-minutes'}
_FREE_STEP = {'name', 'run', 'timeout-minutes'}


def _run_first_line(text: str, key_line: int) -> int:
    """The file line of a ``run:`` script's first line (a block scalar starts on the next)."""
    lines = text.split('\n')
    raw = lines[key_line - 1] if 0 < key_line <= len(lines) else ''
    return key_line + 1 if re.search(r':\s*[|>][-+0-9]*\s*(#.*)?$', raw) else key_line


def _steps(job: Any) -> list[Any]:
    steps = job.get('steps') if isinstance(job, dict) else None
    return steps if isinstance(steps, list) else []


def _script(step: Any, text: str, lines: dict[Any, int], where: tuple[Any, ...]) -> Script | None:
    run = step.get('run') if isinstance(step, dict) else None
    if not isinstance(run, str):
        return None
    return read_script(run, _run_first_line(text, lines.get(where + ('run',), 1)))


def _key_name(key: Any) -> str:
    return 'on' if key is True else str(key)


def compare_workflows(base_text: str, head_text: str, rel: str) -> list[Problem]:
    """Raises Unreadable for a head that is not readable."""
    b = compose(base_text, rel)
    try:
        h = compose(head_text, rel)
    except model.GateError as e:
        raise Unreadable(1, str(e).split(': ', 1)[-1]) from None
    bd, hd = b.data, h.data
    if not isinstance(bd, dict) or not isinstance(bd.get('jobs'), dict):
        # Not a workflow: its value must stay (comments and layout may change).
        return [] if bd == hd else [Problem(1, 'its content changed (an entry point that is not a '
                                               'workflow may change only in comments and layout)')]
    if not isinstance(hd, dict) or not isinstance(hd.get('jobs'), dict):
        return [Problem(1, 'it is no longer a workflow with jobs')]
    out: list[Problem] = []
    for key in sorted(set(bd) | set(hd), key=_key_name):
        name = _key_name(key)
        if name not in _FREE_TOP and bd.get(key) != hd.get(key):
            out.append(Problem(h.lines.get((name,), 1), f'the top-level `{name}` changed (it decides when and '
                                                        f'how every job runs)'))
    for job_id, job in bd['jobs'].items():
        steps = _steps(job)
        scripts = [_script(s, base_text, b.lines, ('jobs', job_id, 'steps', i)) for i, s in enumerate(steps)]
        gated = [i for i, s in enumerate(scripts) if s is not None and s.has_runs]
        if not gated:
            continue
        new = hd['jobs'].get(job_id)
        if not isinstance(new, dict):
            out.append(Problem(h.lines.get(('jobs',), 1), f'job `{job_id}`, which runs gates, was removed or renamed'))
            continue
        jline = h.lines.get(('jobs', job_id), 1)
        for key in sorted(set(job) | set(new)):
            if key not in _FREE_JOB and job.get(key) != new.get(key):
                out.append(Problem(h.lines.get(('jobs', job_id, key), jline),
                                   f'job `{job_id}`: `{key}` changed ({_why(key)})'))
        new_steps = _steps(new)
        last = gated[-1]
        for i in range(last + 1):
            where = ('jobs', job_id, 'steps', i)
            label = f'job `{job_id}`, step {i + 1}' + (f' ("{steps[i].get("name")}")' if isinstance(steps[i], dict) and steps[i].get('name') else '')
            if i >= len(new_steps):
                out.append(Problem(jline, f'{label} was removed (every step up to the last one that runs gates stays)'))
                break
            old_step, new_step = steps[i], new_steps[i]
            if not isinstance(old_step, dict) or not isinstance(new_step, dict):
                if old_step != new_step:
                    out.append(Problem(h.lines.get(where, jline), f'{label} changed'))
                continue
            sline = h.lines.get(where, jline)
            for key in sorted(set(old_step) | set(new_step)):
                if key not in _FREE_STEP and old_step.get(key) != new_step.get(key):
                    out.append(Problem(h.lines.get(where + (key,), sline),
                                       f'{label}: `{key}` changed from {old_step.get(key)!r} to '
                                       f'{new_step.get(key)!r} ({_why(key)})'))
            old_script = scripts[i]
            new_script = _script(new_step, head_text, h.lines, where)
            if (old_script is None) != (new_script is None):
                out.append(Problem(sline, f'{label}: its `run:` script was added or removed'))
            elif old_script is not None and new_script is not None:
                out += [Problem(p.line, f'{label}: {p.what}', p.about_run)
                        for p in compare_scripts(old_script, new_script)]
    return out


def _why(key: str) -> str:
    return {
        'if': 'a condition can skip it',
        'continue-on-error': 'the job then passes when gates fail',
        'env': 'the variables the gates run reads',
        'shell': 'another shell may not stop on a failure',
        'working-directory': 'the run judges another folder',
    }.get(key, 'it governs how the gates run')


# ---------------------------------------------------------------------------------------------


def is_workflow(rel: str) -> bool:
    return rel.endswith(('.yml', '.yaml'))


def problems(rel: str, base_text: str, head_text: str | None) -> list[Problem]:
    if head_text is None:
        return [Problem(1, 'the file was deleted (or renamed)', True)]
    if head_text == base_text:
        return []
    try:
        if is_workflow(rel):
            return compare_workflows(base_text, head_text, rel)
        try:
            base = read_script(base_text)
        except Unreadable:
            return [Problem(1, 'the base version cannot be read as a shell script, so no edit of it '
                               'can be shown harmless')]
        return compare_scripts(base, read_script(head_text))
    except Unreadable as e:
        return [Problem(e.line, f'it {e}')]
    except model.GateError:
        return [Problem(1, 'the base version cannot be read as YAML, so no edit of it can be shown harmless')]


def findings(rel: str, base_text: str, head_text: str | None, base_rev: str) -> list[model.Finding]:
    """One finding for a CI entry point the change weakens (or cannot be shown not to)."""
    found = sorted(problems(rel, base_text, head_text), key=lambda p: not p.about_run)
    if not found:
        return []
    first = found[0]
    more = f' (and {len(found) - 1} more: ' + '; '.join(
        f'line {p.line}: {p.what}' for p in found[1:3]) + (', ...' if len(found) > 3 else '') + ')' if len(found) > 1 else ''
    return [model.Finding(
        GATE,
        f'CI entry point {rel} runs the gates less than the base: {first.what}{more}. A CI entry '
        f'point may change only in comments, echo lines and by strengthening its `gates check` '
        f'runs (a higher --tier, fewer --gate, never without --base or a failure handler); restore '
        f'the base\'s version (git checkout {base_rev[:12]} -- {rel}) and keep the other edits',
        rel, first.line if head_text is not None else None,
    )]
