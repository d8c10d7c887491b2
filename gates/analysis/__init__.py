"""Static analysis of the subject's code, for the api gate (and ``gates protected``), and of CI scripts.

- ``astdiff``: structural diff of two versions of a Python file;
- ``protected``: protected paths and ``path::qualname`` symbols, judged scope by scope;
- ``reach``: the static closure of what the protected verifier calls;
- ``ruleset``: the semgrep rules, with their placeholders filled from the spec;
- ``semgrep_scan``: one semgrep run, matches and per-file problems;
- ``preexisting``: which rule matches a change brings in and which it carries over;
- ``ci_entry``: whether an edited CI entry point still runs every ``gates check`` of its base
  (for the integrity gate).

May import ``model``, ``context``, ``contract`` and ``vcs``; never a gate or a command.
"""
