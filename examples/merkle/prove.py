"""The command the stagegate spec runs: ``python3 -I prove.py <log_n> <queries>``.

It follows the engine's command contract (docs/gates.md): ``STAGEGATE enter N`` / ``exit N``
on stderr around stage N, and the proof bytes written to ``$STAGEGATE_PROOF``. Where the engine
sets ``$STAGEGATE_ACK_FD`` (``measure: rss-sync``, the memory run only), each boundary line is
followed by reading one byte from that descriptor: the engine reads the process's RSS while it
waits. Without it (time and proof runs, or a run by hand) nothing waits.
"""
from __future__ import annotations

import os
import sys

# -I keeps the script's folder off sys.path; the subject's module lives next to this file.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import merkle

ACK_FD = os.environ.get('STAGEGATE_ACK_FD')


def stage(n: int, enter: bool) -> None:
    print(f'STAGEGATE {"enter" if enter else "exit"} {n}', file=sys.stderr, flush=True)
    if ACK_FD:
        os.read(int(ACK_FD), 1)   # go on once the engine has read the figures


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print('usage: prove.py LOG_N QUERIES', file=sys.stderr)
        return 2
    log_n, count = int(argv[0]), int(argv[1])
    stage(0, True)
    leaf_hashes = merkle.leaves(b'stagegate-example', log_n)
    stage(0, False)
    stage(1, True)
    top = merkle.root(leaf_hashes)
    stage(1, False)
    stage(2, True)
    opened = merkle.openings(leaf_hashes, top, count)
    stage(2, False)
    for index, path in opened:
        if not merkle.verify(top, len(leaf_hashes), leaf_hashes[index], index, path):
            print(f'prove.py: opening of leaf {index} does not verify', file=sys.stderr)
            return 1
    proof = merkle.encode(top, leaf_hashes, opened)
    with open(os.environ['STAGEGATE_PROOF'], 'wb') as f:
        f.write(proof)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
