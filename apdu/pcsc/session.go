//go:build cgo

package pcsc

import "github.com/ebfe/scard"

type scardSession struct{ sc *scard.Context }

func establishSession() (session, error) {
	sc, err := scard.EstablishContext()
	if err != nil {
		return nil, classify(err)
	}
	return scardSession{sc}, nil
}

func (s scardSession) ListReaders() ([]string, error) {
	rs, err := s.sc.ListReaders()
	if err == scard.ErrNoReadersAvailable {
		return nil, nil
	}
	if err != nil {
		return nil, classify(err)
	}
	return rs, nil
}

func (s scardSession) Wait(states []readerState) error {
	rs := make([]scard.ReaderState, len(states))
	for i, st := range states {
		rs[i] = scard.ReaderState{Reader: st.Reader, CurrentState: scard.StateFlag(st.Current)}
	}
	if err := s.sc.GetStatusChange(rs, -1); err != nil {
		return classify(err)
	}
	for i := range states {
		states[i].Event = uint32(rs[i].EventState)
		states[i].ATR = append(states[i].ATR[:0], rs[i].Atr...)
	}
	return nil
}

func (s scardSession) Cancel() error  { return s.sc.Cancel() }
func (s scardSession) Release() error { return s.sc.Release() }
