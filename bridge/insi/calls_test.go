package insi_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dmpkiosk/bridge/insi"
	"dmpkiosk/bridge/insi/insisim"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/hwtest"
)

// Every INSi call is audited (operation, mode, outcome, message id —
// never a trait or a number) in the hash-chained trail, and counted for
// /metrics by outcome with its latency.
func TestINSiCallsAuditedAndCounted(t *testing.T) {
	ca := hwtest.NewCA(t, "TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS")
	sim := insisim.New(insisim.Options{Latency: func() time.Duration { return 0 }})
	srv := httptest.NewUnstartedServer(sim)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool(), Certificates: []tls.Certificate{ca.Server(t, "insi").TLS()}}
	srv.StartTLS()
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := journal.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var m insi.Calls
	manu := ca.Client(t, "INSI-MANU")
	c := insi.NewClient(insi.Config{Endpoint: srv.URL + "/lps", ServerRoots: ca.Pool(), Manu: insi.Credentials{Key: manu.Key, Chain: []*x509.Certificate{manu.Cert}},
		Observe: m.Observer(j.Audit, nil)})
	ctx := context.Background()
	// TCHITCHI: OLA (01), then CATARINA (00); an unknown person: insi_102.
	if _, err := c.Lookup(ctx, insi.Manu, insi.Query{Traits: insi.Traits{BirthName: "TCHITCHI", FirstNames: []string{"OLA", "CATARINA"}, Sex: "F", BirthDate: "1936-06-21"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lookup(ctx, insi.Manu, insi.Query{Traits: insi.Traits{BirthName: "PERSONNE", FirstNames: []string{"X"}, Sex: "M", BirthDate: "1990-01-01"}}); err == nil {
		t.Fatal("an unknown person in qualification mode is a technical fault")
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT kind, ref, detail FROM audit WHERE kind = 'insi' ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for rows.Next() {
		var kind, ref, detail string
		if err := rows.Scan(&kind, &ref, &detail); err != nil {
			t.Fatal(err)
		}
		if ref == "" || strings.Contains(detail, "TCHITCHI") || strings.Contains(detail, "CATARINA") || strings.Contains(detail, "2360663220836") {
			t.Errorf("audit entry %q %q holds patient data or no message id", ref, detail)
		}
		details = append(details, detail)
	}
	if len(details) != 3 || !strings.HasPrefix(details[0], "rechercherInsAvecTraitsIdentite INSI-MANU: 01") ||
		!strings.Contains(details[1], ": 00 ") || !strings.Contains(details[2], ": insi_102 ") {
		t.Fatalf("audit %q", details)
	}
	if n, broken, err := j.VerifyAudit(ctx); err != nil || broken != 0 || n < 3 {
		t.Fatalf("audit chain: %d links, broken %d, %v", n, broken, err)
	}
	var out bytes.Buffer
	m.Write(&out)
	for _, want := range []string{`dmpbridge_insi_calls_total{operation="rechercherInsAvecTraitsIdentite",outcome="00"} 1`,
		`outcome="01"} 1`, `outcome="insi_102"} 1`, `dmpbridge_insi_call_seconds_count{operation="rechercherInsAvecTraitsIdentite"} 3`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, out.String())
		}
	}
}
