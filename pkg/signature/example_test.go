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

// A receiver of Ed25519-signed webhooks holds only the endpoint's public
// key ("whpk_…", or fetched as a JSON Web Key Set) and cannot sign itself.
func ExampleVerifyEd25519() {
	// The sender's side: the endpoint's secret is an Ed25519 private key.
	key, err := signature.ParseKey("whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg==")
	if err != nil {
		panic(err)
	}
	sent := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	h := http.Header{}
	signature.WebhookHeaders.Set(h, "msg_p5jXN8AQM9LWM0D4loKWxJek", sent,
		signature.SignatureHeader([]signature.Key{key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", sent, body))
	fmt.Println(h.Get("webhook-signature"))

	// The receiver's side.
	pub, err := signature.ParsePublicKey("whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=")
	if err != nil {
		panic(err)
	}
	fmt.Println(signature.VerifyEd25519(pub, h, body, signature.DefaultTolerance, sent.Add(time.Minute)))

	// Output:
	// v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==
	// <nil>
}
