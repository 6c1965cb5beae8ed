package feed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"dmpkiosk/bridge/hl7"
	"dmpkiosk/bridge/internal/work"
	"dmpkiosk/bridge/journal"
	"dmpkiosk/bridge/sih"
)

// The business acknowledgement (ANS's guide, "Accusé de réception DMP"):
// ZAM^Z01^ZAM_Z01 in HL7 2.6, its first OBX ACK_RECEPTION_DMP (table
// AckMetierZAM) naming in OBX-4 the message that carried the document and
// in OBX-5 Y or N, with an ERR (207, and in ERR-5 the DMP's code and
// label, code system DMP_ERROR_CODE) when N.

// ZAM writes the business acknowledgement of the document message m
// (its sender, addressee and control id) from the application name:
// accepted, or refused with the DMP's code and label.
func ZAM(name string, m meta, accepted bool, code, label string, at time.Time) []byte {
	id := make([]byte, 8)
	rand.Read(id)
	yn := "N"
	if accepted {
		yn = "Y"
	}
	facility := m.ReceiverFacility
	segs := []string{
		hl7.Join('|', "MSH", `^~\&`, hl7.Esc(name), hl7.Esc(facility), hl7.Esc(m.App), hl7.Esc(m.Facility), at.Format("20060102150405"), "",
			"ZAM^Z01^ZAM_Z01", hex.EncodeToString(id), "P", "2.6", "", "", "", "", "FRA", "UNICODE UTF-8", "", "", "2.1^CISIS_CDA_HL7_V2"),
		hl7.Join('|', "OBX", "1", "CWE", "ACK_RECEPTION_DMP^Accusé de réception DMP^AckMetierZAM", hl7.Esc(m.Control),
			yn+"^^expandedYes-NoIndicator", "", "", "", "", "", "F"),
	}
	if !accepted {
		segs = append(segs, hl7.Join('|', "ERR", "", "", "207^Application error^messageErrorCondition", "E",
			hl7.Esc(code)+"^"+hl7.Esc(label)+"^DMP_ERROR_CODE"))
	}
	return []byte(strings.Join(segs, "\r") + "\r")
}

// AckStore is what the acknowledgements' sender needs of the journal.
type AckStore interface {
	AckClaim(ctx context.Context, now time.Time, n int) ([]journal.Ack, error)
	AckSave(ctx context.Context, a journal.Ack, kind, detail string) error
}

// Acks sends the business acknowledgements to the senders, each kept
// before it is sent and resent as written until the sender answers AA.
type Acks struct {
	Journal AckStore
	// Senders are where each sending application (MSH-3) takes its
	// acknowledgements (host:port, MLLP).
	Senders map[string]string
	Wait    time.Duration // an answer's wait (10 s when zero)
	Backoff time.Duration // the first delay before a resend (30 s), doubled
	Logger  *slog.Logger
	kick    chan struct{}
}

// Wake makes the sender look at its outbox now.
func (a *Acks) Wake() {
	if a.kick == nil {
		return
	}
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

func (a *Acks) defaults() {
	if a.Wait == 0 {
		a.Wait = 10 * time.Second
	}
	if a.Backoff == 0 {
		a.Backoff = 30 * time.Second
	}
	if a.Logger == nil {
		a.Logger = slog.New(slog.DiscardHandler)
	}
	if a.kick == nil {
		a.kick = make(chan struct{}, 1)
	}
}

// Run sends until ctx ends.
func (a *Acks) Run(ctx context.Context) {
	a.defaults()
	idle := time.NewTimer(time.Second)
	defer idle.Stop()
	for ctx.Err() == nil {
		l, err := a.Journal.AckClaim(ctx, time.Now(), 1)
		if err != nil && ctx.Err() == nil {
			a.Logger.Error("feed: the acknowledgements' outbox", "error", err)
		}
		if len(l) == 0 {
			idle.Reset(time.Second)
			select {
			case <-ctx.Done():
			case <-a.kick:
			case <-idle.C:
			}
			continue
		}
		a.Send(ctx, l[0])
	}
}

// Send sends one acknowledgement and saves what came of it.
func (a *Acks) Send(ctx context.Context, ack journal.Ack) {
	a.defaults()
	ack.Attempts++
	addr, ok := a.Senders[ack.Sender]
	var err error
	if !ok {
		err = fmt.Errorf("aucune adresse de retour configurée pour %s ([[feed.sender]])", ack.Sender)
	} else {
		var answer []byte
		if answer, err = sih.Exchange(ctx, addr, nil, ack.Message, a.Wait); err == nil {
			err = accepted(answer)
		}
	}
	if err == nil {
		ack.State, ack.Error = journal.AckDone, ""
		a.save(ctx, ack, "zam.sent", fmt.Sprintf("sender=%s attempt=%d", ack.Sender, ack.Attempts))
		return
	}
	ack.Next, ack.Error = time.Now().Add(work.Backoff(a.Backoff, ack.Attempts)), err.Error()
	a.Logger.Warn("feed: an acknowledgement will be sent again", "document", ack.ID, "attempt", ack.Attempts)
	a.save(ctx, ack, "zam.retry", fmt.Sprintf("sender=%s attempt=%d", ack.Sender, ack.Attempts))
}

func (a *Acks) save(ctx context.Context, ack journal.Ack, kind, detail string) {
	if err := a.Journal.AckSave(ctx, ack, kind, detail); err != nil {
		a.Logger.Error("feed: saving an acknowledgement", "document", ack.ID, "error", err)
	}
}

// accepted reads the sender's answer to an acknowledgement: AA or CA.
func accepted(answer []byte) error {
	m, err := hl7.Parse(answer)
	if err != nil {
		return fmt.Errorf("réponse illisible : %w", err)
	}
	msa, ok := m.Seg("MSA", 0)
	if !ok {
		return fmt.Errorf("réponse sans MSA")
	}
	if c := msa.Get(1, 1); c != "AA" && c != "CA" {
		// The receiver's words may name the patient: its codes only.
		e, _ := m.Seg("ERR", 0)
		return fmt.Errorf("refusé par l'expéditeur : %s %s", c, e.Get(3, 1))
	}
	return nil
}
