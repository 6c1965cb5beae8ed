// Package metrics holds the counters the events flow keeps and the admin
// web shows (/metrics, the fleet page): one place both import, so that
// neither imports the other.
package metrics

import (
	"sync"
	"sync/atomic"
)

// Events are the event flow's counters.
type Events struct {
	Received, Accepted, Duplicates, Rejected, Done, Failed, Dead atomic.Int64

	mu         sync.Mutex
	rejectedBy map[string]int64
}

// Reject counts a rejection for reason.
func (m *Events) Reject(reason string) {
	m.Rejected.Add(1)
	m.mu.Lock()
	if m.rejectedBy == nil {
		m.rejectedBy = map[string]int64{}
	}
	m.rejectedBy[reason]++
	m.mu.Unlock()
}

// Rejections returns the rejections counted by reason.
func (m *Events) Rejections() map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int64, len(m.rejectedBy))
	for k, v := range m.rejectedBy {
		out[k] = v
	}
	return out
}
