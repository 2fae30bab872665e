package signature_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hookd/hookd/pkg/signature"
)

// A sender signs with every valid key of the endpoint; a receiver verifies
// with the one key it holds.
func Example() {
	key, err := signature.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		panic(err)
	}
	sent := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)

	h := http.Header{}
	signature.WebhookHeaders.Set(h, "msg_p5jXN8AQM9LWM0D4loKWxJek", sent,
		signature.SignatureHeader([]signature.Secret{key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", sent, body))
	fmt.Println(h.Get("webhook-signature"))

	// On the receiving side, a minute later.
	err = signature.Verify(key, h, body, signature.DefaultTolerance, sent.Add(time.Minute))
	fmt.Println(err)

	// Output:
	// v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
	// <nil>
}
