#!/usr/bin/env bash
# make run: the whole system on embedded defaults — the embedded broker, the
# DMP simulator, the bridge (SQLite journal, admin web), pcscd with two
# virtual slots and the kiosk with its web view and card tray. The first
# run provisions a demo site in demo/ (kiosk CA, one kiosk, the bridge's
# keys, a SoftHSM token with the establishment's keys); later runs reuse it.
set -euo pipefail
cd "$(dirname "$0")/.."
demo=demo
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# The establishment's keys live on a SoftHSM token of the demo site.
export SOFTHSM2_CONF="$PWD/$demo/softhsm/softhsm2.conf" PKCS11_PIN=1234
softhsm_module=/usr/lib/softhsm/libsofthsm2.so

# A demo site provisioned by an older layout (a kiosk certificate without
# its site, say) is made again.
# The kiosk's context: admission (the default) or bedside (the tablet that
# reads the DMP): make run KIOSK_CONTEXT=bedside.
context=${KIOSK_CONTEXT:-admission}
case "$context" in admission|bedside|consultation-exit) ;; *) echo "KIOSK_CONTEXT: admission, bedside or consultation-exit" >&2; exit 2 ;; esac
layout="7-$context"
# The bedside tablet belongs to a unit whose inpatients the test GAM admits.
unit=ACCUEIL
[ "$context" = bedside ] && unit=CARDIO
if [ "$(cat "$demo/.layout" 2>/dev/null)" != "$layout" ]; then
  rm -f "$demo/bridge/bridge.toml"
fi
if [ ! -f "$demo/bridge/bridge.toml" ]; then
  rm -rf "$demo"
  echo "Provisioning the demo site in $demo/ ..."
  bin/provision init --ca "$demo/pki" --name "CHU DEMO kiosk CA" >/dev/null
  bin/provision server --ca "$demo/pki" --name localhost --out "$demo/broker" >/dev/null
  bin/bridge enroll --id bridge-1 --dir "$demo/bridge" >/dev/null
  bin/provision sign --ca "$demo/pki" --id bridge-1 --role bridge --csr "$demo/bridge/bridge.csr" >/dev/null
  bin/provision enc-key --out "$demo/bridge" >/dev/null
  bin/kiosk enroll --id kiosk-demo --dir "$demo/kiosk" >/dev/null
  bin/provision sign --ca "$demo/pki" --id kiosk-demo --site 750712184 --unit "$unit" --csr "$demo/kiosk/device.csr" >/dev/null
  bin/provision bundle --ca "$demo/pki" --cert "$demo/kiosk/device.pem" --bridge-key "$demo/bridge/bridge-enc.pub.pem" \
    --key-path "$PWD/$demo/kiosk/device.key" --broker ssl://localhost:8883 \
    --context "$context" --regime current --out "$demo/kiosk/bundle" >/dev/null
  # The device's own keys: outbox and web view (top-level TOML keys first).
  # The receipt: a page the tablet prints (a printer: receipt.printer =
  # "usb:/dev/usb/lp0" or "tcp:host:9100").
  { printf 'outbox = "%s"\nweb_listen = "127.0.0.1:8080"\nreceipt = { printer = "page", establishment = "CHU DEMO" }\n' "$PWD/$demo/kiosk/outbox.db"; cat "$demo/kiosk/bundle/kiosk.toml"; } \
    > "$demo/kiosk/bundle/kiosk.toml.new" && mv "$demo/kiosk/bundle/kiosk.toml.new" "$demo/kiosk/bundle/kiosk.toml"
  bin/provision policy --ca "$demo/pki" --bridges bridge-1 --bind 127.0.0.1 --cert "$demo/broker/server.pem" \
    --key "$demo/broker/server.key" --out "$demo/mosquitto" >/dev/null
  # The establishment's ORG SIGN and ORG AUTH_CLI keys on the token, their
  # certificates from the test IGC-Santé, the DMP simulator's certificate.
  mkdir -p "$demo/softhsm/tokens"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$PWD/$demo/softhsm/tokens" > "$SOFTHSM2_CONF"
  softhsm2-util --init-token --free --label dmpkiosk-demo --pin "$PKCS11_PIN" --so-pin 56781234 >/dev/null
  bin/dmpsim init --dir "$demo/dmp" --igc "$demo/igc-sante" --pkcs11-module "$softhsm_module" --token dmpkiosk-demo >/dev/null
  bin/insisim init --dir "$demo/insi" --igc "$demo/igc-sante" >/dev/null
  # The admin web: TLS and a password.
  bin/provision server --ca "$demo/pki" --name localhost --out "$demo/admin" >/dev/null
  head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$demo/admin/password" && chmod 600 "$demo/admin/password"
  cat > "$demo/bridge/bridge.toml" <<TOML
id = "bridge-1"
broker = "ssl://localhost:8883"
kiosk_ca = "../pki/ca.pem"
crl = "../pki/crl.pem"
cert = "bridge.pem"
key = "bridge.key"
enc_key = "bridge-enc.key"
card_ca = ["../igc-sante/igc-sante.pem"]
backoff = "1s"

[journal]
path = "journal.db"

[admin]
listen = "127.0.0.1:8444"
cert = "../admin/server.pem"
key = "../admin/server.key"
password_file = "../admin/password"

[dmp]
url = "https://localhost:9443/si-dmp-server/v2/services/"
server_ca = "../dmp/server-ca.pem"
sign_cert = "../dmp/org-sign.pem"
auth_cert = "../dmp/org-auth.pem"
sign_key = "org-sign"
auth_key = "org-auth"
pkcs11_module = "$softhsm_module"
pkcs11_token = "dmpkiosk-demo"
trace_dir = "traces"
# The rules the DMP (here its simulator) runs under: kiosks made for the
# other are refused.
regime = "current"

[insi]
# The INSi simulator (make run starts it); the establishment's INSI-MANU
# and INSI-AUTO certificates from the test IGC-Santé.
url = "https://localhost:9445/lps"
server_ca = "../igc-sante/igc-sante.pem"
manu_cert = "../insi/insi-manu.pem"
manu_key = "../insi/insi-manu.key"
auto_cert = "../insi/insi-auto.pem"
auto_key = "../insi/insi-auto.key"
idam = "DEMO"

[sih]
# The hospital's GAM (here gamsim, started by make run): told of each
# patient's INS, identity status and DMP answers (ADT^A31 over MLLP); its
# own ADT messages (admissions, transfers, discharges) come on listen and
# make the units' inpatients, the bedside tablets' lists.
facility = "750712184"
listen = "127.0.0.1:9450"
[[sih.receiver]]
name = "gam"
application = "GAM"
facility = "CHU-DEMO"
address = "127.0.0.1:9447"
zfa = true
[sih.receiver.ipp]
namespace = "CHU-DEMO"
universal_id = "1.2.250.1.999.1"
type = "ISO"

[feed]
# The hospital's documents for the DMP: the demo's DPI (gamsim documents,
# started by make run) sends them over MLLP; the business acknowledgements
# (ZAM^Z01) go back to it. Its GAM does not send the bridge its
# admissions, so a document's INS is held to its message's (PID-3).
listen = "127.0.0.1:9448"
finess = "750712184"
identities = "message"
[[feed.sender]]
application = "DPI-DEMO"
address = "127.0.0.1:9449"

[dmp.lps]
id = "dmpkiosk"
name = "dmpkiosk"
version = "$(bin/kiosk --version | cut -d' ' -f2)"
homologation = "DEMO"

[dmp.staff_role]
# The VIHF role of staff whose card has no profession code (CPE): the code
# the establishment's DMP homologation gives. A placeholder (2.25 UUID OID).
code = "ACCUEIL"
code_system = "2.25.142109932307565464957882138239304963770"
display = "Personnel d'accueil (démonstration)"
TOML
  echo "$layout" > "$demo/.layout"
else
  echo "Reusing the demo site in $demo/ (rm -rf $demo to start afresh)."
fi

echo "dmpkiosk $(bin/kiosk --version | cut -d' ' -f2) — démonstration"
bin/bridge broker --ca "$demo/pki" --cert "$demo/broker/server.pem" --key "$demo/broker/server.key" \
  --listen 127.0.0.1:8883 > "$demo/broker.log" 2>&1 & pids+=($!)
bin/dmpsim serve --dir "$demo/dmp" --org-ca "$demo/igc-sante/igc-sante.pem" --listen 127.0.0.1:9443 \
  --control 127.0.0.1:9444 --regime current --demo-documents 1800269123045 > "$demo/dmpsim.log" 2>&1 & pids+=($!)
[ -f "$demo/insi/server.pem" ] || bin/insisim init --dir "$demo/insi" --igc "$demo/igc-sante" >/dev/null
bin/insisim serve --cert "$demo/insi/server.pem" --key "$demo/insi/server.key" --client-ca "$demo/igc-sante/igc-sante.pem" \
  --listen 127.0.0.1:9445 --control 127.0.0.1:9446 > "$demo/insisim.log" 2>&1 & pids+=($!)
bin/gamsim serve --listen 127.0.0.1:9447 > "$demo/gamsim.log" 2>&1 & pids+=($!)
bin/bridge run --config "$demo/bridge/bridge.toml" > "$demo/bridge.log" 2>&1 & pids+=($!)
bin/cardsim pcscd > "$demo/pcscd.log" 2>&1 & pids+=($!)
for i in $(seq 50); do bin/kiosk readers 2>/dev/null | grep -q 'Kiosk VPCD 00 01' && break; sleep 0.1; done
bin/kiosk run --config "$demo/kiosk/bundle/kiosk.toml" --tray-cardsim bin/cardsim --tray-pki "$demo/igc-sante" \
  > "$demo/kiosk.log" 2>&1 & pids+=($!)
for i in $(seq 100); do grep -q 'web view' "$demo/kiosk.log" 2>/dev/null && break; sleep 0.1; done
for i in $(seq 100); do grep -q 'consuming events' "$demo/bridge.log" 2>/dev/null && break; sleep 0.1; done
# The demo's DPI sends JEAN-PIERRE DURAND's documents (sent again on a
# later run under the same control ids: kept once) and takes the ZAMs.
bin/gamsim documents --to 127.0.0.1:9448 --acks 127.0.0.1:9449 > "$demo/documents.log" 2>&1 & pids+=($!)
# The test GAM admits two demo patients to the unit CARDIO (the bedside
# tablet's).
bin/gamsim admit --to 127.0.0.1:9450 --unit CARDIO > "$demo/admissions.log" 2>&1 || true
cat <<TXT

Kiosk: http://127.0.0.1:8080   (the tablet's web view, with a tray of virtual cards)
Admin: https://127.0.0.1:8444  (user admin, password $(cat "$demo/admin/password"); the demo CA is in $demo/pki/ca.pem)

Walkthrough: in the tray choose vitale-famille and insert it in reader 1, then cps-medecin in
reader 2. Type the doctor's PIN 1234 on the keypad and Valider; choose a beneficiary (Non moves,
Oui chooses; INSi knows every one of them, the children by an INS of their own); say which
identity document you checked; the kiosk asks INSi through the bridge and shows the five official
traits: Oui if they are the document's (the identity is then qualifiée; without one the DMP is not
called in the current regime); answer the consent questions. The kiosk signs the event with its key and the card, encrypts it to the bridge and
sends it over MQTT; the bridge verifies it, journals it, asks the DMP simulator (TD0.2, then
TD0.3 with a VIHF signed by the establishment's key on the SoftHSM token) and the screen shows
"Autorisation enregistrée". The admin pages show the kiosk, the event, the indicators and the
audit chain. The cards go through real pcscd and vpcd.

Documents: at start the demo's DPI sent JEAN-PIERRE DURAND's documents (MDM^T02 over MLLP: a
lettre de liaison, a CR d'imagerie then its version 2 as MDM^T10, a CR de biologie its author
kept out of the DMP). Admin > Documents shows the first "en attente d'autorisation" and the others
queued behind it (one patient's documents go in order). Once the kiosk records his authorization
(vitale-famille, first beneficiary), they go to the DMP simulator (TD2.1, signed lot, MTOM), the
CR d'imagerie replaced by its version 2 (TD3.1, RPLC), the CR de biologie held (Envoyer au DMP
sends it, Écarter refuses it), and $demo/documents.log shows the business acknowledgements
(ZAM^Z01) the DPI received.

Bedside tablet (make run KIOSK_CONTEXT=bedside, unit CARDIO): insert cps-medecin alone, PIN 1234:
the unit's inpatients come (the test GAM admitted JEAN-PIERRE DURAND and DOMINIQUE PAT-TROIS, those
whose DMP received documents in the last three days marked "nouveaux documents", TD0.4); type a room
number to find one, Oui on a patient, then as below; * on the menu goes back to the list for the next
patient, still signed in. Or the same walkthrough up to INSi's traits
(vitale-famille, the first beneficiary, JEAN-PIERRE DURAND; cps-medecin, PIN 1234); after Oui the
tablet offers to read his DMP. Consulter: the establishment is not yet authorized, so the tablet
asks whether the patient agrees (Oui records it, TD0.3, and his waiting documents leave for the DMP);
the list shows the documents from elsewhere the DMP simulator holds for him (a structured lettre de
liaison, a CR de biologie, a CR d'imagerie) and those the DPI sent; Oui on one shows it above the
screen — PDF pages as images (next, previous, zoom), a structured one as HTML in a sandboxed frame;
Non goes back to the list and wipes it, * back to the menu. Accès en urgence asks a reason, reads without
the patient's agreement and is listed on the admin web's "Accès en urgence" page with what came of it. Try cpe-accueil (PIN 4321) instead of cps-medecin: refused plainly.

Running: embedded MQTT broker ssl://localhost:8883, DMP simulator https://localhost:9443 (current
regime; control API http://127.0.0.1:9444), INSi simulator https://localhost:9445/lps (try
bin/bridge insi-request --endpoint https://localhost:9445/lps --server-ca $demo/igc-sante/igc-sante.pem \
--cert $demo/insi/insi-manu.pem --key $demo/insi/insi-manu.key --birth-name ADRUN --first-names ZOE --sex F \
--birth-date 1975-12-31), the test GAM (gamsim, MLLP on 127.0.0.1:9447: the admin web's GAM page
shows what it was told), bridge (journal $demo/bridge/journal.db, DMP traces
in $demo/bridge/traces), pcscd, kiosk. Logs: $demo/*.log. Ctrl-C stops everything.
TXT
wait
