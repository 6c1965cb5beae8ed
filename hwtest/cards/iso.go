package cards

import (
	"crypto/subtle"
	"slices"
	"sync"

	"dmpkiosk/apdu"
)

// File is a node of a virtual card's file system: a DF (with children, and
// an AID when it is an application) or an EF (with data).
type File struct {
	FID      uint16
	AID      []byte // DF name, for applications
	SFI      byte   // short EF identifier, 0 for none
	Data     []byte // EF content; nil for a DF
	Children []*File
	ReadPIN  bool // reading needs the PIN verified
	// Access, when set, is the security attributes template (A1 { 8C … })
	// of an IAS-ECC FCP: the file's FCP is then written as IAS-ECC cards
	// write it (62 { 80 size, 82, 83, 88 SFI, A1, 8A }), for DFs too.
	Access []byte
	parent *File
}

func (f *File) isDF() bool { return f.Data == nil }

// ISOCard is a virtual card described by data and run by a small ISO 7816-4
// engine: SELECT (by id, child DF, EF, AID, path), READ BINARY (offset or
// SFI), GET RESPONSE, VERIFY. Card-specific instructions go to Extra.
type ISOCard struct {
	Answer   []byte // ATR
	Cla      byte   // the class byte the card accepts (00, or A0 for CPS2ter)
	MF       *File  // FID 3F00
	PIN      []byte // nil: no PIN
	PINRef   byte   // P2 of VERIFY
	MaxTries int
	Blocked  bool // the PIN starts blocked (no try left)
	// FCIWith61: a SELECT asking for the FCI is answered 61 xx, the FCI
	// being fetched with GET RESPONSE, as T=0 cards do.
	FCIWith61 bool
	// WrongLe6C: a READ BINARY whose Le runs past the end of the file is
	// answered 6C xx (the right length) instead of the data and 62 82.
	WrongLe6C bool
	// Extra answers instructions the engine does not know; ok false means
	// "not mine" (6D 00).
	Extra func(c *ISOCard, cmd apdu.Command) (resp []byte, ok bool)

	mu       sync.Mutex
	once     sync.Once
	curDF    *File
	curEF    *File
	pending  []byte
	verified bool
	tries    int
}

func (c *ISOCard) init() {
	c.once.Do(func() {
		var link func(*File)
		link = func(f *File) {
			for _, ch := range f.Children {
				ch.parent = f
				link(ch)
			}
		}
		link(c.MF)
		c.tries = c.MaxTries
		if c.Blocked {
			c.tries = 0
		}
		c.curDF = c.MF
	})
}

// ATR implements Card.
func (c *ISOCard) ATR() []byte { return c.Answer }

// Reset implements Card: selection and PIN status go, the try counter stays.
func (c *ISOCard) Reset() {
	c.init()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.curDF, c.curEF, c.pending, c.verified = c.MF, nil, nil, false
}

// Verified reports whether the PIN is verified in the current session.
func (c *ISOCard) Verified() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.verified
}

// TriesLeft is the PIN try counter.
func (c *ISOCard) TriesLeft() int {
	c.init()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tries
}

func sw(w apdu.StatusWord) []byte { return []byte{w.SW1(), w.SW2()} }

func withSW(data []byte, w apdu.StatusWord) []byte {
	out := make([]byte, 0, len(data)+2)
	return append(append(out, data...), w.SW1(), w.SW2())
}

// Transmit implements Card.
func (c *ISOCard) Transmit(raw []byte) []byte {
	c.init()
	cmd, err := apdu.ParseCommand(raw)
	if err != nil {
		return sw(apdu.SWWrongLength)
	}
	if cmd.Cla&^0x10 != c.Cla {
		return sw(apdu.SWCLANotSupported)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cmd.Ins != apdu.InsGetResponse {
		c.pending = nil
	}
	switch cmd.Ins {
	case apdu.InsSelect:
		return c.selectFile(cmd)
	case apdu.InsReadBinary:
		return c.readBinary(cmd)
	case apdu.InsGetResponse:
		return c.getResponse(cmd)
	case apdu.InsVerify:
		return c.verify(cmd)
	}
	if c.Extra != nil {
		c.mu.Unlock()
		resp, ok := c.Extra(c, cmd)
		c.mu.Lock()
		if ok {
			return resp
		}
	}
	return sw(apdu.SWINSNotSupported)
}

// Respond answers an Extra instruction's data as the card's protocol does:
// 61 xx and GET RESPONSE for a T=0 card (FCIWith61), else data and 90 00.
func (c *ISOCard) Respond(data []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.FCIWith61 && len(data) > 0 {
		c.pending = append([]byte(nil), data...)
		return []byte{0x61, byte(min(len(data), 256) & 0xFF)}
	}
	return withSW(data, apdu.SWOK)
}

func (c *ISOCard) selectFile(cmd apdu.Command) []byte {
	var f *File
	switch cmd.P1 {
	case 0x00, 0x01, 0x02:
		if len(cmd.Data) != 2 {
			return sw(apdu.SWWrongLength)
		}
		fid := uint16(cmd.Data[0])<<8 | uint16(cmd.Data[1])
		switch {
		case fid == 0x3F00 && (cmd.P1 == 0x00 || c.MF.Access != nil):
			// An IAS-ECC card selects its MF by 3F00 whatever P1 says
			// (OpenSC's IAS-ECC driver selects it with P1=02).
			f = c.MF
		default:
			f = child(c.curDF, fid)
			if f != nil && ((cmd.P1 == 0x01 && !f.isDF()) || (cmd.P1 == 0x02 && f.isDF())) {
				f = nil
			}
		}
	case 0x04:
		f = findAID(c.MF, cmd.Data)
	case 0x08, 0x09:
		if len(cmd.Data) == 0 || len(cmd.Data)%2 != 0 {
			return sw(apdu.SWWrongLength)
		}
		f = c.curDF
		if cmd.P1 == 0x08 {
			f = c.MF
		}
		for i := 0; i < len(cmd.Data) && f != nil; i += 2 {
			fid := uint16(cmd.Data[i])<<8 | uint16(cmd.Data[i+1])
			if i == 0 && fid == 0x3F00 {
				f = c.MF
				continue
			}
			f = child(f, fid)
		}
	default:
		return sw(apdu.SWWrongP1P2)
	}
	if f == nil {
		return sw(apdu.SWNotFound)
	}
	if f.isDF() {
		c.curDF, c.curEF = f, nil
	} else {
		c.curDF, c.curEF = f.parent, f
	}
	if cmd.P2&0x0C == 0x0C { // no response data asked
		return sw(apdu.SWOK)
	}
	fci := fciOf(f)
	if c.FCIWith61 {
		c.pending = fci
		return []byte{0x61, byte(len(fci))}
	}
	return withSW(fci, apdu.SWOK)
}

func fciOf(f *File) []byte {
	if f.Access != nil {
		return iasFCP(f)
	}
	if f.isDF() {
		inner := apdu.AppendTLV(nil, 0x83, []byte{byte(f.FID >> 8), byte(f.FID)})
		if f.AID != nil {
			inner = apdu.AppendTLV(inner, 0x84, f.AID)
		}
		return apdu.Template(0x6F, inner)
	}
	n := len(f.Data)
	return apdu.Template(0x62,
		apdu.AppendTLV(nil, 0x80, []byte{byte(n >> 8), byte(n)}),
		apdu.AppendTLV(nil, 0x83, []byte{byte(f.FID >> 8), byte(f.FID)}))
}

func iasFCP(f *File) []byte {
	fid := []byte{byte(f.FID >> 8), byte(f.FID)}
	if f.isDF() {
		var aid []byte
		if f.AID != nil {
			aid = apdu.AppendTLV(nil, 0x84, f.AID)
		}
		return apdu.Template(0x62, apdu.AppendTLV(nil, 0x82, []byte{0x38}), apdu.AppendTLV(nil, 0x83, fid), aid,
			f.Access, apdu.AppendTLV(nil, 0x8A, []byte{0x05}))
	}
	n := len(f.Data)
	var sfi []byte
	if f.SFI != 0 {
		sfi = apdu.AppendTLV(nil, 0x88, []byte{f.SFI << 3})
	}
	return apdu.Template(0x62, apdu.AppendTLV(nil, 0x80, []byte{byte(n >> 8), byte(n)}), apdu.AppendTLV(nil, 0x82, []byte{0x01}),
		apdu.AppendTLV(nil, 0x83, fid), sfi, f.Access, apdu.AppendTLV(nil, 0x8A, []byte{0x05}))
}

func child(df *File, fid uint16) *File {
	if df == nil {
		return nil
	}
	for _, ch := range df.Children {
		if ch.FID == fid {
			return ch
		}
	}
	return nil
}

func findAID(f *File, aid []byte) *File {
	if f.AID != nil && string(f.AID) == string(aid) {
		return f
	}
	for _, ch := range f.Children {
		if got := findAID(ch, aid); got != nil {
			return got
		}
	}
	return nil
}

func (c *ISOCard) readBinary(cmd apdu.Command) []byte {
	ef := c.curEF
	offset := int(cmd.P1&0x7F)<<8 | int(cmd.P2)
	if cmd.P1&0x80 != 0 {
		sfi := cmd.P1 & 0x1F
		offset = int(cmd.P2)
		ef = nil
		for _, ch := range c.curDF.Children {
			if !ch.isDF() && ch.SFI == sfi && sfi != 0 {
				ef = ch
			}
		}
		if ef == nil {
			return sw(apdu.SWNotFound)
		}
		c.curEF = ef
	}
	if ef == nil {
		return sw(apdu.SWNoCurrentEF)
	}
	if ef.ReadPIN && !c.verified {
		return sw(apdu.SWSecurityStatus)
	}
	if offset >= len(ef.Data) {
		return sw(apdu.SWWrongParams)
	}
	avail := len(ef.Data) - offset
	ne := cmd.Ne
	if ne == 0 {
		ne = 256
	}
	if ne > avail {
		if c.WrongLe6C {
			return []byte{0x6C, byte(avail)}
		}
		return withSW(ef.Data[offset:], apdu.SWEndOfFile)
	}
	return withSW(ef.Data[offset:offset+ne], apdu.SWOK)
}

func (c *ISOCard) getResponse(cmd apdu.Command) []byte {
	if c.pending == nil {
		return sw(apdu.SWConditions)
	}
	ne := cmd.Ne
	if ne == 0 || ne > len(c.pending) {
		if ne > len(c.pending) {
			return []byte{0x6C, byte(len(c.pending))}
		}
		ne = len(c.pending)
	}
	out := c.pending[:ne]
	rest := c.pending[ne:]
	if len(rest) == 0 {
		c.pending = nil
		return withSW(out, apdu.SWOK)
	}
	c.pending = rest
	return withSW(out, apdu.StatusWord(0x6100|min(len(rest), 256)&0xFF))
}

func (c *ISOCard) verify(cmd apdu.Command) []byte {
	if c.PIN == nil || cmd.P2 != c.PINRef {
		return sw(apdu.SWRefDataNotFound)
	}
	if c.tries == 0 {
		return sw(apdu.SWAuthBlocked)
	}
	if len(cmd.Data) == 0 { // status query
		if c.verified {
			return sw(apdu.SWOK)
		}
		return sw(apdu.StatusWord(0x63C0 | c.tries))
	}
	if subtle.ConstantTimeCompare(cmd.Data, c.PIN) != 1 {
		c.tries--
		c.verified = false
		return sw(apdu.StatusWord(0x63C0 | c.tries))
	}
	c.tries, c.verified = c.MaxTries, true
	return sw(apdu.SWOK)
}

// Find returns the card's file with identifier fid (depth first), or nil:
// for tests that alter one file of a card.
func (c *ISOCard) Find(fid uint16) *File {
	var walk func(*File) *File
	walk = func(f *File) *File {
		if f.FID == fid {
			return f
		}
		for _, ch := range f.Children {
			if g := walk(ch); g != nil {
				return g
			}
		}
		return nil
	}
	return walk(c.MF)
}

// Drop removes every file with identifier fid from the card.
func (c *ISOCard) Drop(fid uint16) {
	var walk func(*File)
	walk = func(f *File) {
		f.Children = slices.DeleteFunc(f.Children, func(ch *File) bool { return ch.FID == fid })
		for _, ch := range f.Children {
			walk(ch)
		}
	}
	walk(c.MF)
}
