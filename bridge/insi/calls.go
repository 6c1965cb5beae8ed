package insi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// Calls counts the bridge's INSi calls by operation and outcome, with
// their latency, for /metrics.
type Calls struct {
	mu      sync.Mutex
	count   map[[2]string]int64
	seconds map[string]float64
	calls   map[string]int64
}

// Auditor appends to the bridge's audit trail (the journal's Audit).
type Auditor func(ctx context.Context, kind, ref, detail string) error

// Observer returns what Config.Observe is set to: every call is audited
// (operation, mode, outcome and message id — never a trait or a number)
// and counted. audit may be nil (no audit), and so may log.
func (m *Calls) Observer(audit Auditor, log *slog.Logger) func(Call) {
	return func(c Call) {
		m.mu.Lock()
		if m.count == nil {
			m.count, m.seconds, m.calls = map[[2]string]int64{}, map[string]float64{}, map[string]int64{}
		}
		m.count[[2]string{c.Operation, c.Outcome}]++
		m.seconds[c.Operation] += c.Elapsed.Seconds()
		m.calls[c.Operation]++
		m.mu.Unlock()
		if audit == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		detail := fmt.Sprintf("%s %s: %s in %d ms", c.Operation, c.Mode, c.Outcome, c.Elapsed.Milliseconds())
		if err := audit(ctx, "insi", c.MessageID, detail); err != nil && log != nil {
			log.Error("insi: auditing a call", "message_id", c.MessageID, "err", err)
		}
	}
}

// Write writes the counters in the Prometheus text format.
func (m *Calls) Write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintf(w, "# HELP dmpbridge_insi_calls_total INSi calls, by operation and outcome (CR or fault code).\n# TYPE dmpbridge_insi_calls_total counter\n")
	keys := make([][2]string, 0, len(m.count))
	for k := range m.count {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	for _, k := range keys {
		fmt.Fprintf(w, "dmpbridge_insi_calls_total{operation=%q,outcome=%q} %d\n", k[0], k[1], m.count[k])
	}
	fmt.Fprintf(w, "# HELP dmpbridge_insi_call_seconds Time of the INSi calls.\n# TYPE dmpbridge_insi_call_seconds summary\n")
	ops := make([]string, 0, len(m.calls))
	for op := range m.calls {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		fmt.Fprintf(w, "dmpbridge_insi_call_seconds_sum{operation=%q} %g\ndmpbridge_insi_call_seconds_count{operation=%q} %d\n", op, m.seconds[op], op, m.calls[op])
	}
}
