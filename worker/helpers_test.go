package worker_test

import (
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/hookd/hookd/pkg/egress"
	"github.com/hookd/hookd/pkg/signature"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func webhookHeaders() signature.HeaderNames { return signature.WebhookHeaders }

func localClient() *egress.Client {
	return egress.New(egress.Config{
		AllowedSubnets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Timeout:        5 * time.Second,
	})
}
