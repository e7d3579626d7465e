package totp

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/boombuler/barcode/qr"
)

const (
	// MaxIssuer and MaxAccount bound the label, in bytes, so the URI
	// always fits a QR code a phone can still read (each byte may become
	// three when escaped, and the issuer is written twice). An email
	// address is at most 254 bytes.
	MaxIssuer  = 128
	MaxAccount = 256
	// QRSize is the least width and height of QRPNG in pixels. The image
	// is a whole number of pixels per module, so it is shown sharp at its
	// own size, and may be a little larger.
	QRSize = 256
	// quietZone is the blank border around a QR code, in modules, that
	// ISO/IEC 18004 asks for; without it some scanners find no code.
	quietZone = 4
)

// ErrLabel: the issuer or account cannot be put in an otpauth URI (empty,
// too long, invalid UTF-8 or a control character).
var ErrLabel = errors.New("totp: bad issuer or account name")

// Enrolment is a new, not yet confirmed secret, with what the enrolment
// page shows. Everything in it gives the secret away: it is shown once,
// never logged (it redacts itself in slog and fmt), and only Secret is
// kept, sealed (see Seal).
type Enrolment struct {
	Secret  []byte // raw secret: never logged, never stored in the clear
	URI     string // otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30
	Grouped string // base32 secret without padding in groups of 4 ("JBSW Y3DP …"), for typing
	QRPNG   []byte // PNG of URI, rendered here: no outside service sees the secret
}

// LogValue implements slog.LogValuer: an enrolment never reaches a log.
func (Enrolment) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// String keeps fmt's %v and %s from printing the secret.
func (Enrolment) String() string { return "totp.Enrolment[REDACTED]" }

// GoString keeps fmt's %#v from printing the secret.
func (Enrolment) GoString() string { return "totp.Enrolment[REDACTED]" }

var (
	_ slog.LogValuer = Enrolment{}
	_ fmt.Stringer   = Enrolment{}
	_ fmt.GoStringer = Enrolment{}
)

// New makes a secret of SecretBytes random bytes for account (the user's
// email) under issuer ("Gatehouse" or the organization's display name).
func New(issuer, account string) (Enrolment, error) {
	return generate(rand.Reader, issuer, account)
}

// generate is New with its randomness injected, for tests.
func generate(r io.Reader, issuer, account string) (Enrolment, error) {
	if err := checkLabel(issuer, MaxIssuer); err != nil {
		return Enrolment{}, fmt.Errorf("issuer: %w", err)
	}
	if err := checkLabel(account, MaxAccount); err != nil {
		return Enrolment{}, fmt.Errorf("account: %w", err)
	}
	secret := make([]byte, SecretBytes)
	if _, err := io.ReadFull(r, secret); err != nil {
		return Enrolment{}, fmt.Errorf("totp: random secret: %w", err)
	}
	return For(secret, issuer, account)
}

// For is the enrolment of an existing secret (a pending enrolment shown
// again: the page reloaded, its QR image fetched).
func For(secret []byte, issuer, account string) (Enrolment, error) {
	if len(secret) < SecretBytes {
		return Enrolment{}, ErrBadSecret
	}
	if err := checkLabel(issuer, MaxIssuer); err != nil {
		return Enrolment{}, fmt.Errorf("issuer: %w", err)
	}
	if err := checkLabel(account, MaxAccount); err != nil {
		return Enrolment{}, fmt.Errorf("account: %w", err)
	}
	enc := b32.EncodeToString(secret)
	uri := keyURI(issuer, account, enc)
	img, err := qrPNG(uri)
	if err != nil {
		return Enrolment{}, err
	}
	return Enrolment{Secret: secret, URI: uri, Grouped: group(enc), QRPNG: img}, nil
}

func checkLabel(s string, max int) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty", ErrLabel)
	case len(s) > max:
		return fmt.Errorf("%w: over %d bytes", ErrLabel, max)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: invalid UTF-8", ErrLabel)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: control character", ErrLabel)
	}
	return nil
}

// keyURI writes Google's Key Uri Format: the label ISSUER:ACCOUNT in the
// path and the issuer again as a parameter (apps prefer the parameter;
// old ones read only the label). The parameters are in the order the
// format's examples use.
func keyURI(issuer, account, b32secret string) string {
	var b strings.Builder
	b.WriteString("otpauth://totp/")
	b.WriteString(escape(issuer))
	b.WriteByte(':')
	b.WriteString(escape(account))
	b.WriteString("?secret=")
	b.WriteString(b32secret)
	b.WriteString("&issuer=")
	b.WriteString(escape(issuer))
	fmt.Fprintf(&b, "&algorithm=SHA1&digits=%d&period=%d", Digits, period)
	return b.String()
}

// escape percent-encodes every byte but RFC 3986's unreserved ones and
// "@", for both the label and a parameter. net/url's escapers do not fit:
// PathEscape leaves ":" (the label's separator), "&", "=" and "+" alone,
// and QueryEscape writes a space as "+", which some apps show literally;
// the format asks for %20. Escaping more than needed is always valid.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '@' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// group splits a base32 secret into groups of 4 for typing.
func group(b32secret string) string {
	var b strings.Builder
	for i := 0; i < len(b32secret); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(b32secret[i:min(i+4, len(b32secret))])
	}
	return b.String()
}

// qrPNG renders uri as a two-colour PNG with a quiet zone. It draws the
// modules itself instead of using otp.Key.Image: that scales the code to
// fill the image, leaving as little as one module of border (ISO/IEC 18004
// asks for four), and encodes 16-bit grey for what is black and white.
func qrPNG(uri string) ([]byte, error) {
	code, err := qr.Encode(uri, qr.M, qr.Auto)
	if err != nil {
		return nil, fmt.Errorf("totp: QR code: %w", err)
	}
	dim := code.Bounds().Dx()
	modules := dim + 2*quietZone
	scale := (QRSize + modules - 1) / modules
	side := modules * scale
	img := image.NewPaletted(image.Rect(0, 0, side, side), color.Palette{color.White, color.Black})
	for y := 0; y < dim; y++ {
		for x := 0; x < dim; x++ {
			if isDark(code.At(x, y)) {
				fill(img, (x+quietZone)*scale, (y+quietZone)*scale, scale)
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("totp: QR PNG: %w", err)
	}
	return buf.Bytes(), nil
}

func isDark(c color.Color) bool {
	g, ok := color.GrayModel.Convert(c).(color.Gray)
	return ok && g.Y < 128
}

// fill sets a scale×scale square at (x0, y0) to palette index 1 (black).
func fill(img *image.Paletted, x0, y0, scale int) {
	for y := y0; y < y0+scale; y++ {
		row := img.Pix[img.PixOffset(x0, y):]
		for i := 0; i < scale; i++ {
			row[i] = 1
		}
	}
}
