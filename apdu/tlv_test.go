package apdu

import (
	"bytes"
	"errors"
	"testing"
)

func TestTLVBuildParse(t *testing.T) {
	long := bytes.Repeat([]byte{'x'}, 300)
	// E0 { A0 { 82 .. } 80 .. } in the shape of the Vitale directory, plus a
	// two-byte tag, a three-byte tag and a long-form length.
	doc := Template(0xE0,
		Template(0xA0, AppendTLV(nil, 0x82, []byte{0x00, 0x01})),
		AppendTLV(nil, 0x80, []byte("BENEFIC \x00\x02\x20\x02")),
		AppendTLV(nil, 0x5F20, []byte("DUPONT")),
		AppendTLV(nil, 0x9F8101, long),
	)
	var seen []string
	err := Walk(doc, func(depth int, o TLV) error {
		seen = append(seen, string(rune('0'+depth))+o.Tag.String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"0E0", "1A0", "282", "180", "15F20", "19F8101"}
	if len(seen) != len(want) {
		t.Fatalf("walked %v, want %v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Fatalf("walked %v, want %v", seen, want)
		}
	}
	v, ok, err := Find(doc, 0xE0, 0xA0, 0x82)
	if err != nil || !ok || !bytes.Equal(v, []byte{0, 1}) {
		t.Fatalf("Find E0/A0/82: % X %v %v", v, ok, err)
	}
	v, ok, err = Find(doc, 0xE0, 0x9F8101)
	if err != nil || !ok || !bytes.Equal(v, long) {
		t.Fatalf("Find 9F8101: %d bytes %v %v", len(v), ok, err)
	}
	if _, ok, err := Find(doc, 0xE0, 0x99); ok || err != nil {
		t.Fatalf("absent tag: %v %v", ok, err)
	}
	if _, _, err := Find(doc, 0xE0, 0x80, 0x01); !errors.Is(err, ErrTLV) {
		t.Fatalf("descending into a primitive: %v", err)
	}
	// Padding between and after objects is skipped.
	objs, err := ParseAll(append(append([]byte{0xFF, 0x00}, AppendTLV(nil, 0x81, []byte("A"))...), 0xFF, 0xFF))
	if err != nil || len(objs) != 1 || objs[0].Tag != 0x81 {
		t.Fatalf("padding: %+v %v", objs, err)
	}
	for _, l := range []int{0, 127, 128, 255, 256, 65535, 65536} {
		b := AppendTLV(nil, 0x53, make([]byte, l))
		o, rest, err := ParseTLV(b)
		if err != nil || len(o.Value) != l || len(rest) != 0 {
			t.Errorf("length %d: %d %d %v", l, len(o.Value), len(rest), err)
		}
	}
}

func TestTLVBadInput(t *testing.T) {
	bad := [][]byte{
		{0x5F},                         // tag cut short
		{0x5F, 0x81, 0x82, 0x83, 0x01}, // tag over 4 bytes
		{0x80},                         // no length
		{0x80, 0x05, 1, 2},             // value cut short
		{0x80, 0x80, 1},                // indefinite length
		{0x80, 0x82, 0x01},             // long length cut short
		{0x80, 0x85, 1, 1, 1, 1, 1},    // length of 5 bytes
		{0x80, 0x84, 0xFF, 0xFF, 0xFF, 0xFF},
		{0xE0, 0x03, 0x80, 0x05, 0x00}, // inner length beyond its template
	}
	for _, b := range bad {
		err := Walk(b, func(int, TLV) error { return nil })
		if !errors.Is(err, ErrTLV) {
			t.Errorf("Walk(% X): %v, want ErrTLV", b, err)
		}
	}
	deep := []byte{0x80, 0x00}
	for i := 0; i < 40; i++ {
		deep = Template(0xE0, deep)
	}
	if err := Walk(deep, func(int, TLV) error { return nil }); !errors.Is(err, ErrTLV) {
		t.Errorf("40 levels of nesting: %v", err)
	}
}

func FuzzTLV(f *testing.F) {
	f.Add(Template(0xE0, AppendTLV(nil, 0x80, []byte("CARTE   \x00\x01\x20\x01"))))
	f.Add([]byte{0x5F, 0x20, 0x81, 0x01, 0x41})
	f.Add([]byte{0x7F, 0x21, 0x84, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		objs, err := ParseAll(b)
		if err != nil {
			if !errors.Is(err, ErrTLV) {
				t.Fatalf("error %v is not ErrTLV", err)
			}
			return
		}
		// Re-building every object with minimal lengths and parsing it again
		// gives the same tags and values.
		var rebuilt []byte
		for _, o := range objs {
			rebuilt = AppendTLV(rebuilt, o.Tag, o.Value)
		}
		again, err := ParseAll(rebuilt)
		if err != nil || len(again) != len(objs) {
			t.Fatalf("rebuilt: %v, %d objects for %d", err, len(again), len(objs))
		}
		for i := range objs {
			if again[i].Tag != objs[i].Tag || !bytes.Equal(again[i].Value, objs[i].Value) {
				t.Fatalf("object %d changed", i)
			}
		}
		_ = Walk(b, func(int, TLV) error { return nil })
	})
}
