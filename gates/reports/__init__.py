"""What the engine writes for people and tools.

- ``report``: ``gates check``'s table, JSON document and GitHub annotations;
- ``sarif``: SARIF 2.1.0 of the api gate's findings, for code scanning;
- ``htmlreport``: the report page (plots and one HTML page);
- ``benchjson``: benchmark records in pytest-benchmark's JSON layout;
- ``looptranscript``: ``gates loop``'s feedback files and transcript;
- ``brief``: the agent brief (``gates next --format agent``, and every loop feedback file).

May import ``model``, ``contract`` and ``vcs``: a report renders figures, it never measures.
"""
