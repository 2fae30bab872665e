package oauth

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/hookd/hookd/pkg/egress"
)

// Doer sends one request as *egress.Client's DoWith does: through the SSRF
// guard (and the egress proxy, if any), bounded in time, with a capped body.
type Doer interface {
	DoWith(ctx context.Context, req *http.Request, opts ...egress.Option) (*egress.Response, error)
}

// doerTransport lets golang.org/x/oauth2 send token requests through a
// Doer, adding the configuration's extra headers.
type doerTransport struct {
	doer    Doer
	headers map[string]string
}

// RoundTrip sends req with the extra headers that req does not already
// set (the protocol's own headers win).
func (t *doerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for k, v := range t.headers {
		if req.Header.Get(k) == "" {
			req.Header.Set(k, v)
		}
	}
	res, err := t.doer.DoWith(req.Context(), req)
	if err != nil {
		return nil, err
	}
	if res.Truncated {
		return nil, fmt.Errorf("the token response is longer than the %d bytes read", len(res.Body))
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", res.StatusCode, http.StatusText(res.StatusCode)),
		StatusCode:    res.StatusCode,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        res.Header,
		Body:          io.NopCloser(bytes.NewReader(res.Body)),
		ContentLength: int64(len(res.Body)),
		Request:       req,
	}, nil
}

// httpClient returns the client x/oauth2 uses: it sends through t and
// never follows redirects (a 3xx from a token endpoint is an error).
func (t *doerTransport) httpClient() *http.Client {
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

var _ Doer = (*egress.Client)(nil)
