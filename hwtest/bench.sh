#!/usr/bin/env bash
# make bench: every Go benchmark of the project, then bench/REPORT.md with
# the machine, date and commit. Figures are reported as ratios to the floor
# each one compares to, measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench
raw=bench/raw.txt
go test -run '^$' -bench . -benchmem -count=1 -timeout 9m $(go list ./... | grep -v /hwtest/e2e) | tee "$raw"
# Whole sessions through the whole system: enough of them for percentiles.
go test -run '^$' -bench 'InsertionToResult|PatientsInARow' -benchtime 30x -count=1 -timeout 5m ./hwtest/e2e | tee -a "$raw"
# Reading at the bedside: a 50-page document each time, fewer rounds.
go test -run '^$' -bench 'BedsideReading' -benchtime 10x -count=1 -timeout 5m ./hwtest/e2e | tee -a "$raw"
go run ./cmd/benchreport -raw "$raw" -out bench/REPORT.md
echo "bench: wrote bench/REPORT.md"
