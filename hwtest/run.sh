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
  # The device's own keys: outbox and web view (top-level TOML keys first).
  { printf 'outbox = "%s"\nweb_listen = "127.0.0.1:8080"\n' "$PWD/$demo/kiosk/outbox.db"; cat "$demo/kiosk/bundle/kiosk.toml"; } \
    > "$demo/kiosk/bundle/kiosk.toml.new" && mv "$demo/kiosk/bundle/kiosk.toml.new" "$demo/kiosk/bundle/kiosk.toml"
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
bin/kiosk run --config "$demo/kiosk/bundle/kiosk.toml" --tray-cardsim bin/cardsim --tray-pki "$demo/igc-sante" \
  > "$demo/kiosk.log" 2>&1 & pids+=($!)
for i in $(seq 100); do grep -q 'web view' "$demo/kiosk.log" 2>/dev/null && break; sleep 0.1; done
cat <<TXT

Kiosk: http://127.0.0.1:8080  (the tablet's web view, with a tray of virtual cards)

Walkthrough: in the tray choose vitale-famille and insert it in reader 1, then cps-medecin in
reader 2. Type the doctor's PIN 1234 on the keypad and Valider; choose a beneficiary (Non moves,
Oui chooses); answer the identity and consent questions. The kiosk signs the event with its key
and the card, encrypts it to the bridge and stores it. The cards go through real pcscd and vpcd.

Running: the embedded MQTT broker at ssl://localhost:8883 (kiosk CA in $demo/pki, client
certificates required, one kiosk per topic, CRL reloaded on change), pcscd with two virtual
slots, the kiosk (logs in $demo/kiosk.log). bin/provision revoke --ca $demo/pki kiosk-demo
shuts the demo kiosk out.
Not built yet: the bridge service and the DMP and INSi simulators, so the kiosk keeps each
event in its outbox and says "Enregistré, sera transmis" (the bridge will take them).
Ctrl-C stops everything.
TXT
wait
