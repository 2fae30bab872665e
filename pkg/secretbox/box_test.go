package secretbox

import (
	"errors"
	"strings"
	"testing"
)

func TestBox(t *testing.T) {
	t.Parallel()
	const secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	box, err := New("main-secret-for-tests")
	if err != nil {
		t.Fatal(err)
	}
	sealed := box.Seal(secret)
	if strings.Contains(sealed, "C2FVsBQIhrsc") || !strings.HasPrefix(sealed, sealedPrefix) {
		t.Fatalf("sealed value shows the secret: %q", sealed)
	}
	if again := box.Seal(secret); again == sealed {
		t.Fatal("two seals of one value are equal: nonce reused")
	}
	if got, err := box.Open(sealed); err != nil || got != secret {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// Clear values written before a main secret was set still open.
	if got, err := box.Open(secret); err != nil || got != secret {
		t.Fatalf("Open(clear) = %q, %v", got, err)
	}
	// A nil box passes through and refuses sealed values.
	var none *Box
	if none.Seal(secret) != secret {
		t.Fatal("nil box changed the value")
	}
	if _, err := none.Open(sealed); !errors.Is(err, ErrNoKey) {
		t.Fatalf("nil box Open(sealed) err = %v", err)
	}
	// Another main secret cannot open it; tampering is detected.
	other, _ := New("another-main-secret")
	if _, err := other.Open(sealed); err == nil {
		t.Fatal("wrong key opened the value")
	}
	if _, err := box.Open(sealed[:len(sealed)-2] + "AA"); err == nil {
		t.Fatal("tampered value opened")
	}
	if b, _ := New(""); b != nil {
		t.Fatal("empty main secret should give a nil box")
	}
}
