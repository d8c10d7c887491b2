"""The self-test corpus (issue 8.3): the toy subject, the known changes with their verdicts,
the runner, and the integrity gate's use of them for engine changes."""
