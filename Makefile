# dmpkiosk — see README.md. Every target that needs system packages runs
# `deps` first, so each works on a fresh Debian 12 machine.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X dmpkiosk/cmd/internal/cli.Version=$(VERSION)
CMDS        := kiosk bridge cardsim provision dmpsim insisim gamsim
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# go test -v prints every RUN/PASS line; keep logs, failures and summaries.
TESTFILTER  := grep -v -E '^[[:space:]]*(=== (RUN|PAUSE|CONT|NAME)|--- PASS)|^PASS$$' || true

.PHONY: all deps build cross test vet lint run bench chaos package clean

all: build

deps:
	@bash hwtest/deps.sh

build: deps
	@mkdir -p bin
	go build -ldflags '$(LDFLAGS)' -o bin/ $(addprefix ./cmd/,$(CMDS))

# The kiosk for Raspberry Pi class boards: arm64 (Pi 4/5, 64-bit OS) and
# armv7 (32-bit OS), with cgo for PC/SC, each smoke-run under qemu-user.
cross: deps
	@mkdir -p bin/linux-arm64 bin/linux-arm
	CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=aarch64-linux-gnu-gcc \
	  PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig \
	  go build -ldflags '$(LDFLAGS)' -o bin/linux-arm64/kiosk ./cmd/kiosk
	CGO_ENABLED=1 GOOS=linux GOARCH=arm GOARM=7 CC=arm-linux-gnueabihf-gcc \
	  PKG_CONFIG_LIBDIR=/usr/lib/arm-linux-gnueabihf/pkgconfig:/usr/share/pkgconfig \
	  go build -ldflags '$(LDFLAGS)' -o bin/linux-arm/kiosk ./cmd/kiosk
	file bin/linux-arm64/kiosk bin/linux-arm/kiosk
	qemu-aarch64-static bin/linux-arm64/kiosk --version
	qemu-arm-static bin/linux-arm/kiosk --version

vet:
	go vet ./...

lint: vet
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	go run $(STATICCHECK) ./...

# Unit, fuzz-seed and integration tests against the real parts (pcscd+vpcd,
# mosquitto, SoftHSM, Chromium), a scan of their whole log for the test
# patients' data, then the ARM cross builds.
TESTLOG := artifacts/test.log
test: deps
	$(MAKE) --no-print-directory lint
	@mkdir -p artifacts
	go test -race -count=1 -v ./... 2>&1 | tee $(TESTLOG) | { $(TESTFILTER); }
	go run ./hwtest/piiscan $(TESTLOG)
	$(MAKE) --no-print-directory cross

run: build
	@bash hwtest/run.sh

bench: deps
	@bash hwtest/bench.sh

# The fault campaign at full size (make test runs a short one): 20 kiosks,
# 2,000 events, the bridge killed 30 times, the broker 3 times; its
# figures go to bench/CHAOS.md and into bench/REPORT.md.
chaos: deps
	@mkdir -p bench
	go test -count=1 -timeout 30m -run TestChaos -v ./hwtest/chaos -args -chaos.events=2000 -chaos.kiosks=20 \
	  -chaos.kills=30 -chaos.broker-kills=3 -chaos.min-gap=3s -chaos.max-gap=8s -chaos.lookup-every=4 -chaos.report=$(CURDIR)/bench/CHAOS.md \
	  | grep -v -E '^=== RUN'
	@if [ -f bench/raw.txt ]; then go run ./cmd/benchreport -raw bench/raw.txt -out bench/REPORT.md; fi

# Debian packages (nfpm) for the kiosk, the bridge and the test tools, in
# dist/; lintian must find no error.
package: deps
	@bash provisioning/packaging/build.sh

clean:
	rm -rf bin dist
