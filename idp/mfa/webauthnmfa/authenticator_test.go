package webauthnmfa_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// authenticator is a software security key: an ECDSA P-256 credential
// that answers navigator.credentials.create and .get the way a browser
// and a key together do, as the JSON a page script posts.
type authenticator struct {
	t      testing.TB
	priv   *ecdsa.PrivateKey
	id     []byte
	aaguid []byte
	// count is the signature counter: incremented before each assertion
	// unless fixed is set (a key that keeps none stays at 0).
	count uint32
	fixed bool
	// uv sets the UV flag; origin and rpID are what the browser claims
	// and what the key hashes ("" is the right one).
	uv     bool
	origin string
	rpID   string
	// be sets the backup-eligible flag (a synced passkey); handle is the
	// user handle the key stored at creation, returned with every
	// assertion as a resident key does (nil: none).
	be     bool
	handle []byte
}

const (
	rightOrigin = "https://id.example.com"
	rightRPID   = "id.example.com"
)

func newAuthenticator(t testing.TB) *authenticator {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	aaguid := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		t.Fatal(err)
	}
	if _, err := rand.Read(aaguid); err != nil {
		t.Fatal(err)
	}
	return &authenticator{t: t, priv: priv, id: id, aaguid: aaguid, uv: true}
}

var b64 = base64.RawURLEncoding

func (a *authenticator) originOr() string {
	if a.origin != "" {
		return a.origin
	}
	return rightOrigin
}

func (a *authenticator) rpIDHash() []byte {
	id := a.rpID
	if id == "" {
		id = rightRPID
	}
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// options reads what a ceremony's options say the browser must use.
type options struct {
	Challenge string `json:"challenge"`
	RP        struct {
		ID string `json:"id"`
	} `json:"rp"`
	RPID string `json:"rpId"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	Exclude                []descriptor `json:"excludeCredentials"`
	Allow                  []descriptor `json:"allowCredentials"`
	UserVerification       string       `json:"userVerification"`
	AuthenticatorSelection struct {
		ResidentKey      string `json:"residentKey"`
		UserVerification string `json:"userVerification"`
	} `json:"authenticatorSelection"`
	Attestation string `json:"attestation"`
}

type descriptor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

func readOptions(t testing.TB, data []byte) options {
	t.Helper()
	var o options
	if err := json.Unmarshal(data, &o); err != nil || o.Challenge == "" {
		t.Fatalf("options %s: %v", data, err)
	}
	return o
}

func (a *authenticator) clientData(kind, challenge string) []byte {
	b, err := json.Marshal(map[string]any{"type": kind, "challenge": challenge, "origin": a.originOr(), "crossOrigin": false})
	if err != nil {
		a.t.Fatal(err)
	}
	return b
}

// flags are UP, UV when set, and extra (AT for a creation).
func (a *authenticator) flags(extra byte) byte {
	f := byte(0x01) | extra
	if a.uv {
		f |= 0x04
	}
	if a.be {
		f |= 0x08
	}
	return f
}

func (a *authenticator) coseKey() []byte {
	pub, err := a.priv.PublicKey.ECDH()
	if err != nil {
		a.t.Fatal(err)
	}
	raw := pub.Bytes() // 0x04 || x || y
	enc, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		a.t.Fatal(err)
	}
	b, err := enc.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: raw[1:33], -3: raw[33:65]})
	if err != nil {
		a.t.Fatal(err)
	}
	return b
}

// create answers creation options: an attestation of format "none".
func (a *authenticator) create(optionsJSON []byte) string {
	a.t.Helper()
	o := readOptions(a.t, optionsJSON)
	handle, err := b64.DecodeString(o.User.ID)
	if err != nil || len(handle) == 0 {
		a.t.Fatalf("creation options: user id %q: %v", o.User.ID, err)
	}
	a.handle = handle
	cd := a.clientData("webauthn.create", o.Challenge)
	ad := append([]byte(nil), a.rpIDHash()...)
	ad = append(ad, a.flags(0x40))
	ad = binary.BigEndian.AppendUint32(ad, a.count)
	ad = append(ad, a.aaguid...)
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(a.id)))
	ad = append(ad, a.id...)
	ad = append(ad, a.coseKey()...)
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		a.t.Fatal(err)
	}
	return a.marshal(map[string]any{"clientDataJSON": b64.EncodeToString(cd), "attestationObject": b64.EncodeToString(att),
		"transports": []string{"usb", "nfc"}})
}

// get answers request options: an assertion signed over
// authenticatorData || SHA-256(clientDataJSON).
func (a *authenticator) get(optionsJSON []byte) string {
	a.t.Helper()
	o := readOptions(a.t, optionsJSON)
	if !a.fixed {
		a.count++
	}
	return a.assert(o.Challenge, a.count)
}

func (a *authenticator) assert(challenge string, count uint32) string {
	cd := a.clientData("webauthn.get", challenge)
	ad := append([]byte(nil), a.rpIDHash()...)
	ad = append(ad, a.flags(0))
	ad = binary.BigEndian.AppendUint32(ad, count)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte(nil), ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.priv, digest[:])
	if err != nil {
		a.t.Fatal(err)
	}
	response := map[string]any{"clientDataJSON": b64.EncodeToString(cd), "authenticatorData": b64.EncodeToString(ad),
		"signature": b64.EncodeToString(sig)}
	if a.handle != nil {
		response["userHandle"] = b64.EncodeToString(a.handle)
	}
	return a.marshal(response)
}

func (a *authenticator) marshal(response map[string]any) string {
	b, err := json.Marshal(map[string]any{"id": b64.EncodeToString(a.id), "rawId": b64.EncodeToString(a.id),
		"type": "public-key", "response": response, "clientExtensionResults": map[string]any{},
		"authenticatorAttachment": "cross-platform"})
	if err != nil {
		a.t.Fatal(err)
	}
	return string(b)
}
