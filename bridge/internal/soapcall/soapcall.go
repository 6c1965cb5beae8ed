// Package soapcall posts one SOAP 1.2 request and reads its answer, for the
// DMP and INSi clients.
package soapcall

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// Post sends req to url with the SOAP 1.2 content type naming action, and
// reads at most limit bytes of the answer. err is the transport's (no
// answer, or a body cut short); an HTTP error status comes back with its
// body for the caller to read.
func Post(ctx context.Context, hc *http.Client, url, action string, req []byte, limit int64) (status int, body []byte, err error) {
	return PostAs(ctx, hc, url, `application/soap+xml; charset=utf-8; action="`+action+`"`, req, limit)
}

// PostAs is Post with the request's content type (an MTOM package's
// multipart/related).
func PostAs(ctx context.Context, hc *http.Client, url, contentType string, req []byte, limit int64) (status int, body []byte, err error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req))
	if err != nil {
		return 0, nil, err
	}
	hr.Header.Set("Content-Type", contentType)
	resp, err := hc.Do(hr)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, limit))
	return resp.StatusCode, body, err
}
