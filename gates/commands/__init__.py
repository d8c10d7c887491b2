"""One module per ``gates`` command; each is a plain function returning an exit code."""
