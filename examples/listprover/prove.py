"""The command of specs/listprover-rss.yaml and specs/listprover-rss-sync.yaml (``kind:
command``): ``python3 -I -B prove.py LOG_T``.

Stage boundaries go to stderr as ``STAGEGATE enter N`` / ``exit N``, the variant comes from
``$STAGEGATE_VARIANT`` and the proof goes to ``$STAGEGATE_PROOF`` (docs/gates.md). Where the
engine sets ``$STAGEGATE_ACK_FD`` (measure rss-sync), each boundary line is followed by reading
one byte from that descriptor: the engine reads the process's RSS while it waits."""
from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from listprover import probe   # noqa: E402


ACK_FD = os.environ.get('STAGEGATE_ACK_FD')


class Boundaries:
    def _say(self, event: str, k: int) -> None:
        print(f'STAGEGATE {event} {k}', file=sys.stderr, flush=True)
        if ACK_FD:
            os.read(int(ACK_FD), 1)   # go on once the engine has read the figures

    def enter(self, k: int) -> None:
        self._say('enter', k)

    def exit(self, k: int) -> None:
        self._say('exit', k)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        print('usage: prove.py LOG_T', file=sys.stderr)
        return 2
    params = {'log_t': int(argv[0])}
    # The backend the variant names where the stage offers it, else the baseline's (as the
    # engine does for python subjects); the optimisation spec's variant is 'default'.
    wanted = json.loads(os.environ.get('STAGEGATE_VARIANT') or '{}')
    variant = {k: b if b in probe.STAGES[int(k)].SUPPORTED else 'materialized' for k, b in wanted.items()}
    proof = probe.prove(params, variant, Boundaries())
    ok, why = probe.verify(params, proof)
    if not ok:
        print(f'prove.py: the proof does not verify: {why}', file=sys.stderr)
        return 1
    out = os.environ.get('STAGEGATE_PROOF')
    if out:
        with open(out, 'wb') as f:
            f.write(proof)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
