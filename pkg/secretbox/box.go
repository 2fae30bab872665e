// Package secretbox encrypts short secrets (endpoint signing keys) at rest
// with AES-256-GCM under a key derived from HOOKD_MAIN_SECRET.
//
// A nil *Box stores values in clear, so a deployment without a main secret
// works unchanged; a Box opens both sealed and clear values, so setting a
// main secret later needs no migration (clear values are sealed on their
// next write).
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// sealedPrefix marks a sealed value; a clear secret ("whsec_...") never has it.
const sealedPrefix = "enc:v1:"

// ErrNoKey is returned when opening a sealed value without a main secret.
var ErrNoKey = errors.New("secretbox: value is encrypted but HOOKD_MAIN_SECRET is not set")

// Box seals and opens secrets. The zero of *Box (nil) is a pass-through.
type Box struct {
	aead cipher.AEAD
}

// New derives the encryption key from mainSecret with HKDF-SHA256.
// An empty mainSecret returns nil: values are stored in clear.
func New(mainSecret string) (*Box, error) {
	if mainSecret == "" {
		return nil, nil
	}
	key, err := hkdf.Key(sha256.New, []byte(mainSecret), nil, "hookd endpoint secrets v1", 32)
	if err != nil {
		return nil, fmt.Errorf("deriving key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal returns plain encrypted with a random nonce, or plain itself on a nil Box.
func (b *Box) Seal(plain string) string {
	if b == nil {
		return plain
	}
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plain)+b.aead.Overhead())
	_, _ = rand.Read(nonce)
	out := b.aead.Seal(nonce, nonce, []byte(plain), nil)
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(out)
}

// Open returns the clear value of a sealed or clear stored value.
func (b *Box) Open(stored string) (string, error) {
	rest, sealed := strings.CutPrefix(stored, sealedPrefix)
	if !sealed {
		return stored, nil
	}
	if b == nil {
		return "", ErrNoKey
	}
	raw, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", errors.New("secretbox: malformed sealed value")
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], nil)
	if err != nil {
		return "", errors.New("secretbox: cannot decrypt (wrong HOOKD_MAIN_SECRET?)")
	}
	return string(plain), nil
}
