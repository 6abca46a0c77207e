#!/usr/bin/env bash
# Regenerates the demo's evidence with real tools (go tool task demo:evidence). k6 runs against
# the demo service of the running stack (go tool task up), on loopback only.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../../../.. && pwd)
out=$(pwd)
gotestsum="go run gotest.tools/gotestsum@v1.13.0"
cd "$root"
go test -coverprofile="$out/coverage.out" ./workflows/
$gotestsum --junitfile "$out/integration-junit.xml" -- ./internal/traffic/ ./internal/telemetry/ ./activities/
$gotestsum --junitfile "$out/regression-junit.xml" -- ./workflows/ ./internal/release/
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 -f sarif ./workflows/ ./internal/release/ > "$out/staticcheck.sarif" || true
# build matrix: a real cross-build per platform, recorded in shipgate's JSON form
entries=()
for p in linux/amd64 linux/arm64 darwin/arm64; do
  status=success
  GOOS=${p%/*} GOARCH=${p#*/} go build -o /dev/null ./worker ./starter || status=failure
  entries+=("{\"platform\":\"$p\",\"status\":\"$status\"}")
done
(IFS=,; echo "[${entries[*]}]") > "$out/build-matrix.json"
if command -v k6 >/dev/null; then
  k6 run --quiet --summary-trend-stats="avg,min,med,max,p(90),p(95),p(99)" --summary-export="$out/k6-summary.json" "$out/load.js"
else
  echo "k6 not installed (go install go.k6.io/k6@v1.8.1): k6-summary.json not regenerated" >&2
fi
