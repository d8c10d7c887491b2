"""Running the subject and measuring it, in isolated fresh processes.

- ``probe``: one subject prove from a given tree, in mode proof, time or memory;
- ``request``: ``RunRequest``, what one subject run is asked (subject, tree, workload, variant ...);
- ``_probe_child``: the child side of a probe, copied alone into a private folder and run by
  path (``python -B -s -S -P``), so it imports nothing of the engine;
- ``probe_command``: subjects of kind ``command`` (any language; RSS of the process tree);
- ``proc``: the child processes: a clean environment, their own process group, no leftovers;
- ``treedigest``: content digests of the measured trees, checked around every subject run;
- ``jitcache``: warm numba slots for the pre-commit tier, filled only by a warm-up of the key's
  own files;
- ``measure``: what the proof, memory and time gates share within one check (cached runs);
- ``golden``: the golden digests, made from the baseline (``gates freeze``, ``gates rebaseline``);
- ``stats``: the small statistics of the time gate (sign-test intervals);
- ``trust``: a ledger row counts only if an engine not from the change, re-judging it, finds the
  accept rule holding again (the integrity gate re-judges the rows a change adds; ``gates audit``);
- ``memory_rule``, ``time_rule``: the memory gate's rule and the time gate's interleaved
  comparison, on figures or timed runs; here so that the integrity gate applies the same ones.

May import ``model``, ``context``, ``contract`` and ``vcs``; never a gate, a report or a command.
``_probe_child`` imports nothing of the engine at all (it runs where the engine is not importable).
"""
