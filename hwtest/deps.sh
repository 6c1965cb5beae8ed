#!/usr/bin/env bash
# Installs every Debian package the project needs to build, cross-build and
# test; does nothing when all are present. Run as root (or with sudo).
set -euo pipefail

foreign_archs=(arm64 armhf)
packages=(
  # PC/SC: the daemon, the virtual reader driver, headers for cgo, tools
  pcscd vsmartcard-vpcd libpcsclite-dev pcsc-tools pkg-config file
  # MQTT broker and clients
  mosquitto mosquitto-clients
  # keys: SoftHSM through PKCS#11, OpenSC tools, xmlsec1 as independent verifier
  softhsm2 opensc opensc-pkcs11 xmlsec1 openssl
  # cardpeek (console mode) as an independent reader of the virtual Vitale cards
  cardpeek
  # the official DMP and INSi schemas, checked by an independent validator
  libxml2-utils
  # the bridge renders a DMP document for the tablet: PDF pages as images (poppler), a structured
  # CDA as HTML with HL7's CDA.xsl (xsltproc)
  poppler-utils xsltproc
  # ANS's structuration-minimale rules (XSLT 2 schematron) judge the CDA checker under Saxon
  libsaxonhe-java
  # the bridge journal for several bridges
  postgresql
  # cross builds of the kiosk for Raspberry Pi class boards, run under qemu-user
  gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross libc6-dev-armhf-cross
  libpcsclite-dev:arm64 libpcsclite-dev:armhf qemu-user-static
  # headless browser for the web view and admin page tests
  chromium
  # an independent HL7 v2 parser and MLLP peer for the messages to the hospital's systems
  python3-hl7
  # packages: the CCID driver the kiosk package depends on, lintian to judge them
  libccid lintian
  # the units checked by systemd's own analyser; the service users made by adduser
  systemd adduser
  # the system bus and polkit, which a pcscd built with polkit asks who may use the readers
  dbus-daemon polkitd procps
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} system packages present"
  exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: missing ${missing[*]}; run as root" >&2; exit 1; }
  SUDO=sudo
fi
echo "deps: installing ${missing[*]}"
for a in "${foreign_archs[@]}"; do
  dpkg --print-foreign-architectures | grep -qx "$a" || $SUDO dpkg --add-architecture "$a"
done
# A mirror caught mid-sync fails one index now and then: try again, and go on
# with what was fetched (the install below fails loudly if that was not enough).
for i in 1 2 3; do
  if $SUDO apt-get update -qq; then break; fi
  echo "deps: apt-get update failed (attempt $i), retrying" >&2
  sleep $((i * 5))
done
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps: done"
