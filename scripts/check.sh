#!/usr/bin/env bash
# Static checks: ruff, mypy (strict), import-linter layer contracts.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check src tests bench
.venv/bin/mypy
.venv/bin/lint-imports
