#!/usr/bin/env bash
# make run: the whole system on embedded defaults. Parts land one issue at a
# time; this starts what exists — a demo site's embedded broker with the
# generated policy, pcscd with two virtual slots and two virtual cards —
# and says plainly what is not built yet. A second run reuses the demo site.
set -euo pipefail
cd "$(dirname "$0")/.."
demo=demo
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if [ ! -f "$demo/pki/ca.pem" ]; then
  echo "Provisioning the demo site in $demo/ ..."
  bin/provision init --ca "$demo/pki" --name "CHU DEMO kiosk CA" >/dev/null
  bin/provision server --ca "$demo/pki" --name localhost --out "$demo/broker" >/dev/null
  bin/bridge enroll --id bridge-1 --dir "$demo/bridge" >/dev/null
  bin/provision sign --ca "$demo/pki" --id bridge-1 --role bridge --csr "$demo/bridge/bridge.csr" >/dev/null
  bin/provision enc-key --out "$demo/bridge" >/dev/null
  bin/kiosk enroll --id kiosk-demo --dir "$demo/kiosk" >/dev/null
  bin/provision sign --ca "$demo/pki" --id kiosk-demo --csr "$demo/kiosk/device.csr" >/dev/null
  bin/provision bundle --ca "$demo/pki" --cert "$demo/kiosk/device.pem" --bridge-key "$demo/bridge/bridge-enc.pub.pem" \
    --key-path "$PWD/$demo/kiosk/device.key" --broker ssl://localhost:8883 --site 750712184 --unit ACCUEIL \
    --context admission --regime current --out "$demo/kiosk/bundle" >/dev/null
  bin/provision policy --ca "$demo/pki" --bridges bridge-1 --bind 127.0.0.1 --cert "$demo/broker/server.pem" \
    --key "$demo/broker/server.key" --out "$demo/mosquitto" >/dev/null
else
  echo "Reusing the demo site in $demo/ (rm -rf $demo to start afresh)."
fi

echo "dmpkiosk $(bin/kiosk --version | cut -d' ' -f2) — démonstration"
bin/bridge broker --ca "$demo/pki" --cert "$demo/broker/server.pem" --key "$demo/broker/server.key" \
  --listen 127.0.0.1:8883 > "$demo/broker.log" 2>&1 & pids+=($!)
bin/cardsim pcscd > "$demo/pcscd.log" 2>&1 & pids+=($!)
for i in $(seq 50); do bin/kiosk readers 2>/dev/null | grep -q 'Kiosk VPCD 00 01' && break; sleep 0.1; done
bin/cardsim insert -pki "$demo/igc-sante" -profile vitale-famille -slot 0 > "$demo/slot0.log" 2>&1 & pids+=($!)
bin/cardsim insert -pki "$demo/igc-sante" -profile cps-medecin -slot 1 > "$demo/slot1.log" 2>&1 & pids+=($!)
sleep 1.5
echo
echo "Cartes virtuelles lues par le vrai chemin PC/SC (pcscd + vpcd) :"
bin/kiosk read || true
cat <<TXT

Running: the embedded MQTT broker at ssl://localhost:8883 (kiosk CA in $demo/pki, client
certificates required, one kiosk per topic, CRL reloaded on change), pcscd with two virtual
slots, a family carte Vitale and a doctor's CPS. Try: bin/cardsim profiles, then
bin/cardsim insert -pki $demo/igc-sante -profile NAME -slot 0|1, and bin/kiosk read [--json];
bin/provision revoke --ca $demo/pki kiosk-demo shuts the demo kiosk out.
Not built yet, so not started: the kiosk session and outbox (which will drive the display and
its web view), the bridge service, the DMP and INSi simulators.
Ctrl-C stops everything.
TXT
wait
