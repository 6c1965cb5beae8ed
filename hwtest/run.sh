#!/usr/bin/env bash
# make run: the whole system on embedded defaults. Parts land one issue at a
# time; this starts what exists — pcscd with the two virtual slots and two
# virtual cards — shows their read, and says plainly what is not built yet.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p demo
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

echo "dmpkiosk $(bin/kiosk --version | cut -d' ' -f2) — démonstration"
bin/cardsim pcscd > demo/pcscd.log 2>&1 & pids+=($!)
for i in $(seq 50); do bin/kiosk readers 2>/dev/null | grep -q 'Kiosk VPCD 00 01' && break; sleep 0.1; done
bin/cardsim insert -pki demo/pki -profile vitale-famille -slot 0 > demo/slot0.log 2>&1 & pids+=($!)
bin/cardsim insert -pki demo/pki -profile cps-medecin -slot 1 > demo/slot1.log 2>&1 & pids+=($!)
sleep 1.5
echo
echo "Cartes virtuelles lues par le vrai chemin PC/SC (pcscd + vpcd) :"
bin/kiosk read || true
cat <<'TXT'

Built so far: card reading (Vitale, CPS), INS, the test rig. Other cards: bin/cardsim profiles,
then bin/cardsim insert -pki demo/pki -profile NAME -slot 0|1, and bin/kiosk read [--json].
Not built yet, so not started: the display and web view, the kiosk session and outbox, the
embedded broker and provisioning, the bridge, the DMP and INSi simulators.
Ctrl-C stops pcscd and removes the cards.
TXT
wait
