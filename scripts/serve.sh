#!/usr/bin/env bash
# Set up and run wharf on its embedded default (SQLite + local disk under ./data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/wharf serve --host "${WHARF_HOST:-127.0.0.1}" --port "${WHARF_PORT:-5000}" \
  --data-dir "${WHARF_DATA_DIR:-./data}" "$@"
