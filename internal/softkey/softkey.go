package softkey

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// Key is a software security key: an ECDSA P-256 credential that
// answers navigator.credentials.create and .get the way a browser and a
// key together do, as the JSON a page script posts. Its fields are the
// knobs of the attacks tests play.
type Key struct {
	t      testing.TB
	priv   *ecdsa.PrivateKey
	ID     []byte
	AAGUID []byte
	// Count is the signature counter: incremented before each assertion
	// unless Fixed is set (a key that keeps none stays at 0).
	Count uint32
	Fixed bool
	// UV sets the UV flag; Origin and RPID are what the browser claims
	// and what the key hashes ("" is DefaultOrigin, DefaultRPID).
	UV     bool
	Origin string
	RPID   string
	// BE sets the backup-eligible flag (a synced passkey); Handle is the
	// user handle the key stored at creation, returned with every
	// assertion as a resident key does (nil: none).
	BE     bool
	Handle []byte
	// DefaultOrigin and DefaultRPID are the right origin and RP ID.
	DefaultOrigin, DefaultRPID string
}

// New is a key for the relying party at origin (its host is the RP ID).
func New(t testing.TB, origin string) *Key {
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
	u, err := url.Parse(origin)
	if err != nil {
		t.Fatal(err)
	}
	return &Key{t: t, priv: priv, ID: id, AAGUID: aaguid, UV: true, DefaultOrigin: origin, DefaultRPID: u.Hostname()}
}

var b64 = base64.RawURLEncoding

func (a *Key) originOr() string {
	if a.Origin != "" {
		return a.Origin
	}
	return a.DefaultOrigin
}

func (a *Key) rpIDHash() []byte {
	id := a.RPID
	if id == "" {
		id = a.DefaultRPID
	}
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// Options is what a ceremony's options say the browser must use.
type Options struct {
	Challenge string `json:"challenge"`
	RP        struct {
		ID string `json:"id"`
	} `json:"rp"`
	RPID string `json:"rpId"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	Exclude                []Descriptor `json:"excludeCredentials"`
	Allow                  []Descriptor `json:"allowCredentials"`
	UserVerification       string       `json:"userVerification"`
	AuthenticatorSelection struct {
		ResidentKey      string `json:"residentKey"`
		UserVerification string `json:"userVerification"`
	} `json:"authenticatorSelection"`
	Attestation string `json:"attestation"`
}

// Descriptor names a credential in options.
type Descriptor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// ReadOptions reads options JSON (View.Data).
func ReadOptions(t testing.TB, data []byte) Options {
	t.Helper()
	var o Options
	if err := json.Unmarshal(data, &o); err != nil || o.Challenge == "" {
		t.Fatalf("options %s: %v", data, err)
	}
	return o
}

func (a *Key) clientData(kind, challenge string) []byte {
	b, err := json.Marshal(map[string]any{"type": kind, "challenge": challenge, "origin": a.originOr(), "crossOrigin": false})
	if err != nil {
		a.t.Fatal(err)
	}
	return b
}

// flags are UP, UV when set, and extra (AT for a creation).
func (a *Key) flags(extra byte) byte {
	f := byte(0x01) | extra
	if a.UV {
		f |= 0x04
	}
	if a.BE {
		f |= 0x08
	}
	return f
}

func (a *Key) coseKey() []byte {
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

// Create answers creation options: an attestation of format "none".
func (a *Key) Create(optionsJSON []byte) string {
	a.t.Helper()
	o := ReadOptions(a.t, optionsJSON)
	handle, err := b64.DecodeString(o.User.ID)
	if err != nil || len(handle) == 0 {
		a.t.Fatalf("creation options: user id %q: %v", o.User.ID, err)
	}
	a.Handle = handle
	cd := a.clientData("webauthn.create", o.Challenge)
	ad := append([]byte(nil), a.rpIDHash()...)
	ad = append(ad, a.flags(0x40))
	ad = binary.BigEndian.AppendUint32(ad, a.Count)
	ad = append(ad, a.AAGUID...)
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(a.ID)))
	ad = append(ad, a.ID...)
	ad = append(ad, a.coseKey()...)
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		a.t.Fatal(err)
	}
	return a.marshal(map[string]any{"clientDataJSON": b64.EncodeToString(cd), "attestationObject": b64.EncodeToString(att),
		"transports": []string{"usb", "nfc"}})
}

// Get answers request options: an assertion signed over
// authenticatorData || SHA-256(clientDataJSON).
func (a *Key) Get(optionsJSON []byte) string {
	a.t.Helper()
	o := ReadOptions(a.t, optionsJSON)
	if !a.Fixed {
		a.Count++
	}
	return a.Assert(o.Challenge, a.Count)
}

// Assert answers challenge with counter count.
func (a *Key) Assert(challenge string, count uint32) string {
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
	if a.Handle != nil {
		response["userHandle"] = b64.EncodeToString(a.Handle)
	}
	return a.marshal(response)
}

func (a *Key) marshal(response map[string]any) string {
	b, err := json.Marshal(map[string]any{"id": b64.EncodeToString(a.ID), "rawId": b64.EncodeToString(a.ID),
		"type": "public-key", "response": response, "clientExtensionResults": map[string]any{},
		"authenticatorAttachment": "cross-platform"})
	if err != nil {
		a.t.Fatal(err)
	}
	return string(b)
}
