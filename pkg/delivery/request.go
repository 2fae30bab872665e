package delivery

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/hookd/hookd/pkg/signature"
	"github.com/hookd/hookd/pkg/webhook"
)

// prepare builds the attempt's request as the receiver gets it at now: a
// POST of the payload as published to the endpoint's URL, its custom
// headers, and the signature headers set last, signed with every key of
// the endpoint valid at now (HMAC keys sign "v1" entries, Ed25519 keys
// "v1a" ones, in one header), so custom headers cannot replace them.
//
// An endpoint with an active transformation gets the request its code
// asks for instead (transform): its method (POST or PUT), URL, payload and
// headers, the signature computed over the transformed payload. prepare
// returns a nil request, and sets at.shaped.cancel, when the code cancels
// the attempt; a failure of the code is an error with its reason.
func (a *Attempter) prepare(ctx context.Context, at *attempt, now time.Time) (*http.Request, error) {
	ep, msg := &at.ep, &at.msg
	var keys []signature.Key
	for _, s := range ep.SigningSecrets(now) {
		k, err := signature.ParseKey(s)
		if err != nil {
			return nil, fmt.Errorf("endpoint %s has an unusable secret: %w", ep.ID, err)
		}
		keys = append(keys, k)
	}
	method, url, payload, headers := http.MethodPost, ep.URL, []byte(msg.Payload), ep.Headers
	shaped, err := a.transform(ctx, at)
	if err != nil {
		return nil, err
	}
	if at.shaped = shaped; shaped != nil {
		if shaped.cancel {
			return nil, nil
		}
		method, url, payload, headers = shaped.method, shaped.url, shaped.payload, shaped.headers
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	for name, value := range headers {
		req.Header.Set(name, value)
	}
	req.Header.Set("Content-Type", "application/json")
	a.Headers.Set(req.Header, msg.ID, now, signature.SignatureHeader(keys, msg.ID, now, payload))
	return req, nil
}

// responseText is a receiver's answer as recorded (see webhook.StorableText).
func responseText(body []byte) string {
	return webhook.StorableText(body)
}
