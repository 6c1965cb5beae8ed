package apdu

import (
	"context"
	"log/slog"
	"time"
)

// Record is what the tracer keeps of one APDU. Data are kept only when the
// tracer reveals them: what a card says is patient data.
type Record struct {
	Cla, Ins  byte
	CmdBytes  int
	RespBytes int
	Duration  time.Duration
	SW        StatusWord // 0 when the exchange failed
	Err       error
	CmdData   []byte // nil unless revealed
	RespData  []byte // nil unless revealed
}

// LogValue makes a Record safe to log: counts and codes, never data.
func (r Record) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("ins", hexByte(r.Ins)),
		slog.Int("cmd_bytes", r.CmdBytes),
		slog.Int("resp_bytes", r.RespBytes),
		slog.Duration("duration", r.Duration),
	}
	if r.Err != nil {
		attrs = append(attrs, slog.String("error", r.Err.Error()))
	} else {
		attrs = append(attrs, slog.String("sw", hexWord(r.SW)))
	}
	return slog.GroupValue(attrs...)
}

// Tracer is a Transport that records every APDU it carries.
type Tracer struct {
	Next Transport
	// Reveal keeps command and response data in the records. For bench
	// work on test cards only: never with real patients' cards.
	Reveal bool
	// OnRecord receives each record; it must not block for long.
	OnRecord func(Record)
}

// Transmit implements Transport.
func (tr *Tracer) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	start := time.Now()
	resp, err := tr.Next.Transmit(ctx, cmd)
	rec := Record{CmdBytes: len(cmd), RespBytes: len(resp), Duration: time.Since(start), Err: err}
	if len(cmd) >= 2 {
		rec.Cla, rec.Ins = cmd[0], cmd[1]
	}
	if err == nil && len(resp) >= 2 {
		rec.SW = StatusWord(resp[len(resp)-2])<<8 | StatusWord(resp[len(resp)-1])
	}
	if tr.Reveal {
		rec.CmdData = append([]byte(nil), cmd...)
		rec.RespData = append([]byte(nil), resp...)
	}
	if tr.OnRecord != nil {
		tr.OnRecord(rec)
	}
	return resp, err
}

const hexDigits = "0123456789ABCDEF"

func hexByte(b byte) string { return string([]byte{hexDigits[b>>4], hexDigits[b&15]}) }

func hexWord(w StatusWord) string { return hexByte(w.SW1()) + hexByte(w.SW2()) }
