package webhook

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// secretN is the n-th test secret (valid format, distinct per n).
func secretN(n int) string { return fmt.Sprintf("whsec_%032d", n) }

func TestRotateSecret(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	t.Run("each rotated-out secret keeps its own expiry, newest first", func(t *testing.T) {
		ep := &Endpoint{Secret: secretN(0)}
		for i := 1; i <= 2; i++ {
			if err := ep.RotateSecret(secretN(i), DefaultGracePeriod, t0.Add(time.Duration(i)*time.Hour)); err != nil {
				t.Fatalf("rotation %d: %v", i, err)
			}
		}
		want := []string{secretN(2), secretN(1), secretN(0)}
		if got := ep.SigningSecrets(t0.Add(3 * time.Hour)); !slices.Equal(got, want) {
			t.Fatalf("signing secrets after two rotations = %v, want %v", got, want)
		}
		// The first rotated-out secret expires 24 h after its rotation, the
		// second 24 h after its own.
		if got := ep.SigningSecrets(t0.Add(25*time.Hour + time.Second)); !slices.Equal(got, want[:2]) {
			t.Fatalf("signing secrets 24 h after the first rotation = %v, want %v", got, want[:2])
		}
		if got := ep.SigningSecrets(t0.Add(26*time.Hour + time.Second)); !slices.Equal(got, want[:1]) {
			t.Fatalf("signing secrets 24 h after the second rotation = %v, want %v", got, want[:1])
		}
	})

	t.Run("grace 0 keeps no old secret", func(t *testing.T) {
		ep := &Endpoint{Secret: secretN(0)}
		if err := ep.RotateSecret(secretN(1), 0, t0); err != nil {
			t.Fatal(err)
		}
		if got := ep.SigningSecrets(t0); !slices.Equal(got, []string{secretN(1)}) {
			t.Fatalf("signing secrets = %v, want only the new one", got)
		}
	})

	t.Run("expired secrets are dropped", func(t *testing.T) {
		ep := &Endpoint{Secret: secretN(1), OldSecrets: []ExpiringSecret{{Key: secretN(0), ExpiresAt: t0.Add(-time.Second)}}}
		if err := ep.RotateSecret(secretN(2), time.Hour, t0); err != nil {
			t.Fatal(err)
		}
		if len(ep.OldSecrets) != 1 || ep.OldSecrets[0].Key != secretN(1) || !ep.OldSecrets[0].ExpiresAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("old secrets = %+v, want only %s until %s", ep.OldSecrets, secretN(1), t0.Add(time.Hour))
		}
	})

	t.Run("at most MaxOldSecrets: a further rotation is refused, not a secret dropped", func(t *testing.T) {
		ep := &Endpoint{Secret: secretN(0)}
		for i := 1; i <= MaxOldSecrets; i++ {
			if err := ep.RotateSecret(secretN(i), DefaultGracePeriod, t0.Add(time.Duration(i)*time.Minute)); err != nil {
				t.Fatalf("rotation %d: %v", i, err)
			}
		}
		before := slices.Clone(ep.OldSecrets)
		now := t0.Add(time.Hour)
		err := ep.RotateSecret(secretN(99), DefaultGracePeriod, now)
		if ErrorCode(err) != ELIMITREACHED {
			t.Fatalf("rotation %d = %v, want %s", MaxOldSecrets+1, err, ELIMITREACHED)
		}
		if ep.Secret != secretN(MaxOldSecrets) || !slices.Equal(ep.OldSecrets, before) {
			t.Fatalf("a refused rotation changed the endpoint: secret %s, old %+v", ep.Secret, ep.OldSecrets)
		}
		if n := len(ep.SigningSecrets(now)); n != MaxOldSecrets+1 {
			t.Fatalf("%d signing secrets, want %d", n, MaxOldSecrets+1)
		}
		// Without a grace period nothing is added, so it is allowed.
		if err := ep.RotateSecret(secretN(100), 0, now); err != nil {
			t.Fatalf("rotation without grace at the limit: %v", err)
		}
		// Once the oldest expires, there is room again.
		later := t0.Add(DefaultGracePeriod + time.Minute + time.Second)
		if err := ep.RotateSecret(secretN(101), DefaultGracePeriod, later); err != nil {
			t.Fatalf("rotation after the oldest expired: %v", err)
		}
		if len(ep.OldSecrets) != MaxOldSecrets || ep.OldSecrets[0].Key != secretN(100) {
			t.Fatalf("old secrets after the oldest expired = %d, newest %s", len(ep.OldSecrets), ep.OldSecrets[0].Key)
		}
	})
}
