package feed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strings"
	"time"

	"golang.org/x/text/encoding/charmap"

	"dmpkiosk/bridge/dmp"
	"dmpkiosk/bridge/hl7"
	"dmpkiosk/bridge/journal"
)

// MaxMessageBytes bounds a document message: a CDA carrying a PDF of
// 20 MB is about 27 MB once in base64.
const MaxMessageBytes = 40 << 20

// applicationErrors are the receiver's codes the acknowledgement names in
// ERR-5 (the profile's table applicationErrorCondition).
var applicationErrors = map[string]string{
	"900": "Version du document incorrecte lors d'une demande de remplacement/suppression",
	"901": "Auteur non autorisé à remplacer ou supprimer un document",
	"902": "Identifiant patient inconnu",
	"903": "INS non présent dans le document",
	"904": "INS différent de celui connu",
}

// errorLabels are HL7 table 0357's labels of the codes used.
var errorLabels = map[string]string{
	codeMissing: "Required field missing", codeDataType: "Data type error", codeTable: "Table value not found",
	codeMessageType: "Unsupported message type", codeEvent: "Unsupported event code", codeVersion: "Unsupported version",
	codeApplication: "Application error",
}

// Store is what the intake needs of the journal.
type Store interface {
	KeepDocument(ctx context.Context, d journal.Document) (dup bool, err error)
	Document(ctx context.Context, id string) (journal.Document, error)
}

// Intake takes the document messages and keeps their documents.
type Intake struct {
	Journal Store
	// Name is the bridge's application in the acknowledgements (MSH-3).
	Name   string
	Logger *slog.Logger
	// Kept, when set, is told a document was kept (the worker's Wake).
	Kept func()
	// Identities, when set, must hold the document's INS as a qualified
	// identity (journal.Documents.INSHeld: a GAM's VALI patient, an INSi
	// lookup found), else 902; nil: the INS is held to PID-3's alone.
	Identities interface {
		INSHeld(ctx context.Context, ins, oid string) (bool, error)
	}
}

// Serve answers the document messages on the MLLP listener l until ctx
// ends.
func (in *Intake) Serve(ctx context.Context, l net.Listener) {
	hl7.Serve(ctx, l, MaxMessageBytes, 5*time.Minute, func(frame []byte) []byte { return in.Handle(ctx, frame) })
}

// Handle takes one MLLP frame and returns its acknowledgement: AA once
// the document is durably in the journal, AE or AR otherwise.
func (in *Intake) Handle(ctx context.Context, frame []byte) []byte {
	latin := isLatin(frame)
	if latin {
		if d, err := charmap.ISO8859_15.NewDecoder().Bytes(frame); err == nil {
			frame = d
		}
	}
	m, err := hl7.Parse(frame)
	if err != nil {
		return in.ack(nil, latin, &Refusal{Ack: "AR", Code: "100", Text: "message HL7 illisible"})
	}
	s, err := Parse(m)
	if err == nil {
		err = in.keep(ctx, s)
	}
	var r *Refusal
	if err != nil && !errors.As(err, &r) {
		in.logger().Error("feed: keeping a document", "control", controlOf(m), "error", err)
		r = &Refusal{Ack: "AE", Code: codeApplication, Text: "erreur interne de la passerelle : renvoyez le message"}
	}
	if r != nil {
		in.logger().Warn("feed: document message refused", "control", controlOf(m), "code", r.Code, "application", r.App)
	}
	return in.ack(m, latin, r)
}

// CheckCDA is every check a CDA passes before it is queued: a
// ClinicalDocument with its INS (903), the CDA schema, the
// structuration-minimale header rules (dmp.CheckStructure, the rules broken
// named). The error is a *Refusal saying what is wrong.
func CheckCDA(ctx context.Context, cda []byte) (header, error) {
	h, err := readCDA(cda)
	if err != nil {
		return h, err
	}
	if err := checkSchema(ctx, cda); err != nil {
		return h, err
	}
	if v, err := dmp.CheckStructure(cda); err != nil || len(v) > 0 {
		text := make([]string, len(v))
		for i, x := range v {
			text[i] = x.String()
		}
		return h, &Refusal{Ack: "AE", Code: codeApplication, Where: "OBX^1^5",
			Text: "document non conforme à la structuration minimale du CI-SIS : " + strings.Join(text, " ; ")}
	}
	return h, nil
}

// keep reads the CDA and keeps the document.
func (in *Intake) keep(ctx context.Context, s *Submission) error {
	h, err := CheckCDA(ctx, s.CDA)
	if err != nil {
		return err
	}
	if s.UniqueID != "" && s.UniqueID != h.ID {
		return &Refusal{Ack: "AE", Code: codeApplication, Where: "TXA^1^12", Text: "TXA-12 n'est pas l'identifiant du CDA"}
	}
	// The INS the sender holds for the patient (PID-3) is the document's.
	if s.INS != "" && (s.INS != h.INS || s.INSOID != "" && s.INSOID != h.INSOID) {
		return &Refusal{Ack: "AE", Code: codeApplication, App: "904", Where: "PID^1^3", Text: "l'INS du document n'est pas celui du patient dans le message"}
	}
	if in.Identities != nil {
		held, err := in.Identities.INSHeld(ctx, h.INS, h.INSOID)
		if err != nil {
			return err
		}
		if !held {
			return &Refusal{Ack: "AE", Code: codeApplication, App: "902", Where: "OBX^1^5",
				Text: "patient inconnu : l'INS du document n'est celui d'aucune identité qualifiée de l'établissement (GAM, INSi)"}
		}
	}
	meta, _ := json.Marshal(meta{Version: s.Version, Type: s.Type + "^" + s.Event, Status: s.Status, Completion: s.Completion, IPP: s.IPP, Class: s.Class,
		Title: h.Title, Author: s.Author, Organization: s.Organization, Flags: s.Flags,
		App: s.App, Facility: s.Facility, Receiver: s.Receiver, ReceiverFacility: s.ReceiverFacility, Control: s.Control})
	kind := s.Event
	if s.Event == "R01" {
		kind += "/" + s.Status
	}
	d := journal.Document{ID: s.App + "/" + s.Facility + "/" + s.Control, Received: time.Now(), Kind: kind, UniqueID: h.ID,
		Replaces: s.Replaces, INS: h.INS, INSOID: h.INSOID, TypeCode: firstNonEmpty(h.TypeCode, s.TypeCode), Unit: s.Unit,
		Sender: s.Author.ID, Meta: meta, CDA: s.CDA}
	dup, err := in.Journal.KeepDocument(ctx, d)
	if err != nil {
		return err
	}
	if dup {
		// One control id, one document: the same id for another document
		// (or another event of it) is not a message sent again; it is said,
		// not acknowledged as kept.
		kept, err := in.Journal.Document(ctx, d.ID)
		if err != nil {
			return err
		}
		if kept.UniqueID != d.UniqueID || kept.Kind != d.Kind {
			return &Refusal{Ack: "AE", Code: codeApplication, Where: "MSH^1^10",
				Text: "identifiant de message (MSH-10) déjà utilisé par l'expéditeur pour un autre document : renvoyez-le sous un nouvel identifiant"}
		}
	}
	in.logger().Info("feed: document kept", "document", d.ID, "kind", kind, "again", dup)
	if in.Kept != nil && !dup {
		in.Kept()
	}
	return nil
}

// ack writes the acknowledgement of m (nil: unreadable): MSH answering
// m's, MSA, and for a refusal the ERR the profile describes.
func (in *Intake) ack(m *hl7.Message, latin bool, r *Refusal) []byte {
	var msh hl7.Segment
	if m != nil {
		msh, _ = m.Seg("MSH", 0)
	}
	version := msh.Get(12, 1)
	if version == "" {
		version = "2.6"
	}
	charset := "UNICODE UTF-8"
	if latin {
		charset = "8859/15"
	}
	name := in.Name
	if name == "" {
		name = "DMPKIOSK"
	}
	id := make([]byte, 8)
	rand.Read(id)
	code := "AA"
	if r != nil {
		code = r.Ack
	}
	segs := []string{hl7.Join('|', "MSH", `^~\&`, hl7.Esc(name), msh.Field(6), msh.Field(3), msh.Field(4), time.Now().Format("20060102150405"), "",
		"ACK^"+hl7.Esc(msh.Get(9, 2))+"^ACK", hex.EncodeToString(id), "P", hl7.Esc(version), "", "", "", "", "FRA", charset),
		hl7.Join('|', "MSA", code, hl7.Esc(msh.Get(10, 1)))}
	if r != nil {
		app := ""
		if r.App != "" {
			app = hl7.Join('^', r.App, hl7.Esc(applicationErrors[r.App]), "applicationErrorCondition")
		}
		segs = append(segs, hl7.Join('|', "ERR", "", r.Where, hl7.Join('^', r.Code, hl7.Esc(errorLabels[r.Code]), "HL70357"), "E", app, "", "", hl7.Esc(r.Text)))
	}
	ack := []byte(strings.Join(segs, "\r") + "\r")
	if latin {
		if e, err := charmap.ISO8859_15.NewEncoder().Bytes(ack); err == nil {
			return e
		}
	}
	return ack
}

func (in *Intake) logger() *slog.Logger {
	if in.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return in.Logger
}

// isLatin tells a message in ISO 8859-15 (MSH-18 8859/15) from one in
// UTF-8, before it is parsed.
func isLatin(frame []byte) bool {
	end := len(frame)
	if i := strings.IndexByte(string(frame[:min(end, 1024)]), '\r'); i >= 0 {
		end = i
	}
	return strings.Contains(string(frame[:min(end, 1024)]), "|8859/15|")
}

func controlOf(m *hl7.Message) string {
	msh, _ := m.Seg("MSH", 0)
	return msh.Get(10, 1)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
