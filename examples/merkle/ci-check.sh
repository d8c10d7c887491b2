#!/usr/bin/env bash
# CI for the example subject (issue 8.5): build a throw-away git repository from this folder,
# tag it as the baseline, commit the optimised candidate on a branch, and run the ci tier on it.
# Usage: examples/merkle/ci-check.sh [GATES]   (GATES: the gates command, default `gates`)
set -euo pipefail
gates=${1:-gates}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/stagegate-example-XXXXXX")
# Removed on success, failure and Ctrl-C alike.
trap 'rm -rf "$tmp"' EXIT
cp -r "$here/." "$tmp/"
cd "$tmp"
export GIT_AUTHOR_NAME=ci GIT_AUTHOR_EMAIL=ci@example.invalid GIT_COMMITTER_NAME=ci GIT_COMMITTER_EMAIL=ci@example.invalid
git init -q -b main
git add -A
git commit -qm 'merkle example: baseline'
git tag merkle-v1
git checkout -qb fast
cp candidates/merkle_fast.py merkle.py
git commit -qam 'merkle example: read siblings from layers built once'
"$gates" check --tier ci
