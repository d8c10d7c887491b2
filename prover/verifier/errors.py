"""The verifier's one error type: a check that failed, with the stage, the check and the evidence."""

from __future__ import annotations


class VerificationError(Exception):
    """A proof was rejected.

    ``stage`` is the stage id (0..8) whose check failed, or -1 for the header/statement;
    ``check`` a short stable name of the check (``"zero-check final"``, ``"pc(0) = 0"``);
    ``detail`` the evidence (expected vs. actual values, round numbers, offsets).
    """

    def __init__(self, stage: int, check: str, detail: str = "") -> None:
        msg = f"stage {stage}: {check}" + (f": {detail}" if detail else "")
        super().__init__(msg)
        self.stage = stage
        self.check = check
        self.detail = detail
