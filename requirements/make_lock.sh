#!/usr/bin/env bash
# Regenerate requirements/lock.txt from the current environment (after `pip install -e ".[all extras]"`).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 requirements/make_lock.py
# the lock must resolve together with the project's ranges
python3 -m pip install -q --dry-run --ignore-installed -c requirements/lock.txt ".[test,workflow]" >/dev/null
echo "requirements/lock.txt resolves"
