package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
)

// Headers of a webhook request. When sms.webhook.secret is set,
// SignatureHeader is "sha256=" and the hex HMAC-SHA256, keyed with the
// secret, of TimestampHeader's value, a ".", and the exact body; the
// gateway recomputes it and refuses a timestamp far from its clock, so a
// captured request cannot be replayed later.
const (
	SignatureHeader = "X-Gatehouse-Signature"
	TimestampHeader = "X-Gatehouse-Timestamp"
)

// Webhook sends each text as a JSON POST to one URL:
// {"to": "+41791234567", "text": "…"}, with "from" when sms.from is set.
// Any 2xx is a success; the gateway may answer {"id": "…", "status": "…"}.
type Webhook struct {
	gw     *gateway
	secret config.Secret
	from   string
	now    func() time.Time
}

var _ SMSSender = (*Webhook)(nil)

// NewWebhook returns a sender for cfg, which config.Validate has checked.
func NewWebhook(cfg config.SMS, opts Options) (*Webhook, error) {
	if cfg.Webhook.URL == "" {
		return nil, errors.New("notify: sms.webhook.url is not set")
	}
	opts = opts.withDefaults()
	gw, err := newGateway(config.SMSProviderWebhook, cfg.Webhook.URL, cfg.Timeout, opts)
	if err != nil {
		return nil, err
	}
	return &Webhook{gw: gw, secret: cfg.Webhook.Secret, from: cfg.From, now: opts.Now}, nil
}

// String describes the sender for `gatehouse sms test`.
func (w *Webhook) String() string {
	signed := "unsigned"
	if w.secret != "" {
		signed = "signed"
	}
	return "webhook " + w.gw.shown() + " (" + signed + ")"
}

type webhookBody struct {
	To   string `json:"to"`
	Text string `json:"text"`
	From string `json:"from,omitempty"`
}

// SendSMS posts text for to. Errors wrap ErrSMSRejected (4xx) or
// ErrSMSUnavailable (network, 5xx after the retry, 429).
func (w *Webhook) SendSMS(ctx context.Context, to, text string) (SMSResult, error) {
	if err := checkSMS(to, text); err != nil {
		return SMSResult{}, err
	}
	body, err := json.Marshal(webhookBody{To: to, Text: text, From: w.from})
	if err != nil {
		return SMSResult{}, err
	}
	// One timestamp and signature for both attempts: the retry is the
	// same request, and a gateway may drop a repeated signature as a
	// duplicate.
	ts := strconv.FormatInt(w.now().Unix(), 10)
	sig := ""
	if w.secret != "" {
		sig = SignWebhook(w.secret.Reveal(), ts, body)
	}
	r, err := w.gw.post(ctx, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.gw.endpoint.String(), bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set(TimestampHeader, ts)
		if sig != "" {
			req.Header.Set(SignatureHeader, sig)
		}
		return req, nil
	})
	if err != nil {
		return SMSResult{}, err
	}
	var answer struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Error  string `json:"error"`
		Msg    string `json:"message"`
	}
	_ = json.Unmarshal(r.body, &answer) // the answer is optional; a non-JSON one is kept as text below
	if r.status < 200 || r.status > 299 {
		e := w.gw.statusError(r)
		switch {
		case answer.Error != "":
			e.Message = oneLine(answer.Error)
		case answer.Msg != "":
			e.Message = oneLine(answer.Msg)
		default:
			e.Message = oneLine(string(r.body))
		}
		if r.status == http.StatusUnauthorized || r.status == http.StatusForbidden {
			e.Hint = "the gateway refuses Gatehouse: check sms.webhook.secret on both sides, and both clocks"
		}
		return SMSResult{}, e
	}
	res := SMSResult{Provider: config.SMSProviderWebhook, ID: oneLine(answer.ID), Status: oneLine(answer.Status), Attempts: r.attempts}
	if res.Status == "" {
		res.Status = "HTTP " + strconv.Itoa(r.status)
	}
	w.gw.logger.Info("sms sent", "provider", res.Provider, "to", maskPhone(to), "id", res.ID, "status", res.Status, "attempts", res.Attempts)
	return res, nil
}

// SignWebhook returns the SignatureHeader value for a request with the
// given TimestampHeader value and body: "sha256=" and the hex
// HMAC-SHA256 of timestamp + "." + body. Gateways written in Go may call
// it to verify (compare with hmac.Equal).
func SignWebhook(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
