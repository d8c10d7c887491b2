"""One module per ``gates`` command; each is a plain function returning an exit code.

No command imports another: what they share is in ``gates.session`` (the run of the gates) or in
the package it belongs to (``contract.focus``, ``reports.brief``, ``measuring.golden``,
``vcs.hook``)."""
