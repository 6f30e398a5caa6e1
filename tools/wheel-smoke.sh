#!/usr/bin/env bash
# An installed wheel works outside the repo: a fresh venv in a temp folder, `pip install` of the
# wheel, then in an empty folder doctor, init with the example, keys, the example campaign on the
# embedded chain (anvil found on PATH, as after `npm install -g @foundry-rs/anvil`), verify.
# Usage: tools/wheel-smoke.sh dist/mintloom-*.whl     (what `make wheel-smoke` runs)
set -euo pipefail

wheel=$(realpath "${1:?usage: $0 path/to/mintloom-*.whl}")
python=$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)')   # the real one, not a shim
repo=$(cd "$(dirname "$0")/.." && pwd)
anvil_version=$(node -p "require('$repo/package.json').dependencies['@foundry-rs/anvil']")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mintloom-wheel-smoke.XXXXXX")
cleanup() {
  # stop the node of the smoke workspace if a failed step left it running, then drop everything
  if [ -x "$tmp/venv/bin/mintloom" ] && [ -d "$tmp/empty/ws/.mintloom" ]; then
    (cd "$tmp/empty/ws" && "$tmp/venv/bin/mintloom" node stop >/dev/null 2>&1) || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# nothing of the checkout may leak in: no PYTHONPATH, no MINTLOOM_* override, no repo .venv on PATH
unset PYTHONPATH VIRTUAL_ENV
for var in $(env | sed -n 's/^\(MINTLOOM_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$var"; done
mkdir -p "$tmp/empty"
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pip}"   # reused across runs
export PATH="$tmp/venv/bin:$tmp/npm/bin:$PATH"
export HOME="$tmp/home" MINTLOOM_KEY_PASSWORD="wheel-smoke-password" NPM_CONFIG_UPDATE_NOTIFIER=false

start=$(date +%s) steps=0
step() { steps=$((steps + 1)); echo "== wheel-smoke [$(($(date +%s) - start))s] $*"; }

step "npm install -g @foundry-rs/anvil@$anvil_version (as a user would; prefix in the temp folder)"
npm install -g --prefix "$tmp/npm" --no-audit --no-fund --loglevel=error "@foundry-rs/anvil@$anvil_version"
[ "$(command -v anvil)" = "$tmp/npm/bin/anvil" ] || { echo "wheel-smoke: anvil on PATH is $(command -v anvil)" >&2; exit 1; }

step "venv + pip install $(basename "$wheel")"
"$python" -m venv "$tmp/venv"
# dependencies from the package index, at the versions the tests ran with (requirements.lock)
"$tmp/venv/bin/python" -m pip install --quiet --no-compile -c "$repo/requirements.lock" "$wheel"
[ "$(command -v mintloom)" = "$tmp/venv/bin/mintloom" ] || { echo "wheel-smoke: wrong mintloom on PATH" >&2; exit 1; }

cd "$tmp/empty"
"$tmp/venv/bin/python" - <<'EOF'
from mintloom import resources as r
assert r.source_tree() is None, "the installed package must not see a source tree"
for located in (r.contracts_dir(), r.examples_dir(), r.font_dirs()[-1]):
    assert located.origin == "package" and located.path.is_dir(), located
from mintloom.ledger.node import find_foundry_tool
anvil = find_foundry_tool("anvil")  # the platform binary behind npm's node wrapper on PATH
assert anvil is not None and anvil.name == "anvil" and "/@foundry-rs/anvil-" in str(anvil), anvil
EOF

step "mintloom doctor"
mintloom doctor | tee "$tmp/doctor.txt"
grep -q "package data" "$tmp/doctor.txt"

step "mintloom init ws --example lumen --segments 1"
mintloom init ws --example lumen --segments 1
cd ws

step "mintloom keys init"
mintloom keys init --organisation "Wheel Smoke"

step "register the example's dataset and model (the licence gate checks them)"
mintloom dataset register lumen-brand-photography-2026 --datasheet lumen/lineage/brand-photography.md \
  --license CC-BY-4.0 --ai-training
mintloom model register lumen-layout-v1 --weights lumen/lineage/layout-model.json \
  --trained-on lumen-brand-photography-2026 --license Apache-2.0

step "mintloom run lumen/campaign.yaml (generate, sign, log, anchor, publish)"
mintloom run lumen/campaign.yaml -w 2

step "mintloom verify out/lumen-winter"
mintloom verify out/lumen-winter --json >"$tmp/verify.json"
"$tmp/venv/bin/python" - "$tmp/verify.json" <<'EOF'
import json, sys
text = open(sys.argv[1]).read()
reports = json.loads(text)
reports = reports if isinstance(reports, list) else [reports]
verdicts = {r["verdict"] for r in reports}
assert len(reports) >= 30 and verdicts == {"VERIFIED"}, (len(reports), verdicts)
print(f"{len(reports)} files VERIFIED")
EOF

echo "== wheel-smoke [$(($(date +%s) - start))s] done: the installed wheel works outside the repo"
echo "wheel-smoke: all $steps steps passed"   # set -e: any failing step has exited non-zero
