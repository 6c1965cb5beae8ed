package apdu

import (
	"errors"
	"fmt"
)

// StatusWord is SW1 SW2 of a response.
type StatusWord uint16

// Status words the project names.
const (
	SWOK                 StatusWord = 0x9000
	SWEndOfFile          StatusWord = 0x6282
	SWWrongLength        StatusWord = 0x6700
	SWSecurityStatus     StatusWord = 0x6982
	SWAuthBlocked        StatusWord = 0x6983
	SWConditions         StatusWord = 0x6985
	SWNoCurrentEF        StatusWord = 0x6986
	SWWrongData          StatusWord = 0x6A80
	SWFuncNotSupported   StatusWord = 0x6A81
	SWNotFound           StatusWord = 0x6A82
	SWRecordNotFound     StatusWord = 0x6A83
	SWWrongP1P2          StatusWord = 0x6A86
	SWRefDataNotFound    StatusWord = 0x6A88
	SWWrongParams        StatusWord = 0x6B00
	SWINSNotSupported    StatusWord = 0x6D00
	SWCLANotSupported    StatusWord = 0x6E00
	SWNoPreciseDiagnosis StatusWord = 0x6F00
	// CPS2ter (GSM 11.11 style) proprietary words.
	SWCPS2WrongPIN   StatusWord = 0x9804
	SWCPS2PINBlocked StatusWord = 0x9840
	SWCPS2NotFound   StatusWord = 0x9404
)

// SW1 is the first byte.
func (sw StatusWord) SW1() byte { return byte(sw >> 8) }

// SW2 is the second byte.
func (sw StatusWord) SW2() byte { return byte(sw) }

// OK reports 90 00.
func (sw StatusWord) OK() bool { return sw == SWOK }

// Errors callers branch on; every error built from a status word unwraps to
// one of these, or is an *UnknownStatusError.
var (
	ErrNotFound          = errors.New("file or application not found")
	ErrWrongPIN          = errors.New("wrong PIN")
	ErrAuthBlocked       = errors.New("authentication method blocked")
	ErrSecurityStatus    = errors.New("security status not satisfied")
	ErrWrongLength       = errors.New("wrong length")
	ErrWrongParams       = errors.New("wrong parameters P1-P2")
	ErrCLANotSupported   = errors.New("class not supported")
	ErrINSNotSupported   = errors.New("instruction not supported")
	ErrEndOfFile         = errors.New("end of file reached before Le bytes")
	ErrConditionsNotMet  = errors.New("conditions of use not satisfied")
	ErrWrongData         = errors.New("incorrect data field")
	ErrFuncNotSupported  = errors.New("function not supported")
	ErrNoPreciseDiagnose = errors.New("no precise diagnosis")
)

var swKinds = map[StatusWord]error{
	SWEndOfFile:          ErrEndOfFile,
	SWWrongLength:        ErrWrongLength,
	SWSecurityStatus:     ErrSecurityStatus,
	SWAuthBlocked:        ErrAuthBlocked,
	SWConditions:         ErrConditionsNotMet,
	SWNoCurrentEF:        ErrConditionsNotMet,
	SWWrongData:          ErrWrongData,
	SWFuncNotSupported:   ErrFuncNotSupported,
	SWNotFound:           ErrNotFound,
	SWRecordNotFound:     ErrNotFound,
	SWRefDataNotFound:    ErrNotFound,
	SWWrongP1P2:          ErrWrongParams,
	SWWrongParams:        ErrWrongParams,
	SWINSNotSupported:    ErrINSNotSupported,
	SWCLANotSupported:    ErrCLANotSupported,
	SWNoPreciseDiagnosis: ErrNoPreciseDiagnose,
	SWCPS2PINBlocked:     ErrAuthBlocked,
	SWCPS2NotFound:       ErrNotFound,
}

// StatusError is a status word that means failure, with the condition it
// stands for.
type StatusError struct {
	SW   StatusWord
	kind error
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("card answered %04X: %v", uint16(e.SW), e.kind)
}

// Unwrap returns the condition (ErrNotFound, ...).
func (e *StatusError) Unwrap() error { return e.kind }

// AuthError is a refused PIN. Retries is the number of tries left, or -1
// when the card does not say (CPS2ter 98 04).
type AuthError struct {
	SW      StatusWord
	Retries int
}

func (e *AuthError) Error() string {
	if e.Retries < 0 {
		return fmt.Sprintf("card answered %04X: wrong PIN", uint16(e.SW))
	}
	return fmt.Sprintf("card answered %04X: wrong PIN, %d tries left", uint16(e.SW), e.Retries)
}

// Is makes an AuthError match ErrWrongPIN, and ErrAuthBlocked when no try
// is left.
func (e *AuthError) Is(target error) bool {
	return target == ErrWrongPIN || (target == ErrAuthBlocked && e.Retries == 0)
}

// UnknownStatusError keeps a status word this package gives no meaning to.
type UnknownStatusError struct{ SW StatusWord }

func (e *UnknownStatusError) Error() string {
	return fmt.Sprintf("card answered %04X: unknown status", uint16(e.SW))
}

// Err is nil for 90 00 and otherwise the typed error of the status word.
// Warnings that carry data (62 82) are errors too: the caller decides.
func (sw StatusWord) Err() error {
	switch {
	case sw == SWOK:
		return nil
	case sw&0xFFF0 == 0x63C0:
		return &AuthError{SW: sw, Retries: int(sw & 0x0F)}
	case sw == SWCPS2WrongPIN:
		return &AuthError{SW: sw, Retries: -1}
	}
	if k, ok := swKinds[sw]; ok {
		return &StatusError{SW: sw, kind: k}
	}
	return &UnknownStatusError{SW: sw}
}

func (sw StatusWord) String() string {
	if err := sw.Err(); err != nil {
		return err.Error()
	}
	return "9000: success"
}
