package ins

import (
	"bytes"
	"io"
	"strconv"
	"testing"
)

func BenchmarkINSC(b *testing.B) {
	buf := make([]byte, 0, 32)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendINSC(buf[:0], "Jean-François", "610217", "1610275754289")
	}
}

// benchLines is an input of n distinct lines like those of kiosk ins-c.
func benchLines(n int) []byte {
	var in bytes.Buffer
	for i := range n {
		in.WriteString("MARIE-HELENE;")
		in.WriteString(strconv.Itoa(100000 + i%900000))
		in.WriteString(";16102757")
		in.WriteString(strconv.Itoa(10000 + i%90000))
		in.WriteByte('\n')
	}
	return in.Bytes()
}

// BenchmarkINSCLine compares the streaming command path (stack) with the
// bare library call on the same line (floor), per line.
func BenchmarkINSCLine(b *testing.B) {
	b.Run("stack", func(b *testing.B) {
		in := benchLines(b.N)
		b.ReportAllocs()
		b.ResetTimer()
		if err := StreamINSC(bytes.NewReader(in), io.Discard); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
	b.Run("floor", func(b *testing.B) {
		buf := make([]byte, 0, 32)
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = AppendINSC(buf[:0], "MARIE-HELENE", "610217", "1610275754289")
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
}
