package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-idp/gatehouse/config"
)

// Twilio sends texts through Twilio's Messages API: one form POST to
// /2010-04-01/Accounts/{AccountSID}/Messages.json with Basic auth.
type Twilio struct {
	gw         *gateway
	accountSID string
	authToken  config.Secret
	from       string // From, or
	serviceSID string // MessagingServiceSid
}

var _ SMSSender = (*Twilio)(nil)

// NewTwilio returns a sender for cfg, which config.Validate has checked.
func NewTwilio(cfg config.SMS, opts Options) (*Twilio, error) {
	t := cfg.Twilio
	switch {
	case t.AccountSID == "":
		return nil, errors.New("notify: sms.twilio.account_sid is not set")
	case t.AuthToken == "":
		return nil, errors.New("notify: sms.twilio.auth_token is not set (sms.twilio.auth_token_file)")
	case cfg.From == "" && t.MessagingServiceSID == "":
		return nil, errors.New("notify: twilio needs sms.from or sms.twilio.messaging_service_sid")
	}
	base := t.BaseURL
	if base == "" {
		base = config.DefaultTwilioBaseURL
	}
	endpoint := strings.TrimSuffix(base, "/") + "/2010-04-01/Accounts/" + url.PathEscape(t.AccountSID) + "/Messages.json"
	gw, err := newGateway(config.SMSProviderTwilio, endpoint, cfg.Timeout, opts.withDefaults())
	if err != nil {
		return nil, err
	}
	return &Twilio{gw: gw, accountSID: t.AccountSID, authToken: t.AuthToken, from: cfg.From, serviceSID: t.MessagingServiceSID}, nil
}

// Endpoint is the Messages URL the sender posts to.
func (t *Twilio) Endpoint() string { return t.gw.shown() }

// SendSMS sends text to to. Errors wrap ErrSMSRejected or
// ErrSMSUnavailable; those from Twilio are an *SMSError with its code.
func (t *Twilio) SendSMS(ctx context.Context, to, text string) (SMSResult, error) {
	if err := checkSMS(to, text); err != nil {
		return SMSResult{}, err
	}
	form := url.Values{"To": {to}, "Body": {text}}
	if t.serviceSID != "" {
		form.Set("MessagingServiceSid", t.serviceSID)
	} else {
		form.Set("From", t.from)
	}
	body := form.Encode()
	r, err := t.gw.post(ctx, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.gw.endpoint.String(), strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.SetBasicAuth(t.accountSID, t.authToken.Reveal())
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		return req, nil
	})
	if err != nil {
		return SMSResult{}, err
	}
	if r.status < 200 || r.status > 299 {
		return SMSResult{}, t.failure(r)
	}
	var ok struct {
		SID    string `json:"sid"`
		Status string `json:"status"`
	}
	if json.Unmarshal(r.body, &ok) != nil || ok.SID == "" {
		// A 2xx without a message sid is not Twilio (a proxy, a captive
		// portal): the text was most likely not sent.
		e := t.gw.statusError(r)
		e.unavailable, e.Message = true, "a success without a message sid: "+oneLine(string(r.body))
		return SMSResult{}, e
	}
	res := SMSResult{Provider: config.SMSProviderTwilio, ID: ok.SID, Status: ok.Status, Attempts: r.attempts}
	t.gw.logger.Info("sms sent", "provider", res.Provider, "to", maskPhone(to), "id", res.ID, "status", res.Status, "attempts", res.Attempts)
	return res, nil
}

// twilioHints say, for the codes a misconfiguration or a bad number
// produces, what the code means and what to look at.
var twilioHints = map[int]string{
	20003: "authentication failed: check sms.twilio.account_sid and sms.twilio.auth_token",
	20404: "not found: check sms.twilio.account_sid",
	20429: "too many requests",
	21211: "invalid 'To' number",
	21212: "invalid 'From' number: check sms.from",
	21408: "permission to send to this region is not enabled: see Messaging > Geo permissions in the Twilio console",
	21606: "sms.from cannot send SMS: use an SMS-capable Twilio number",
	21608: "a trial account may send only to verified numbers",
	21610: "the recipient has unsubscribed (replied STOP)",
	21612: "Twilio cannot route from sms.from to this number",
	21614: "not a mobile number",
	30007: "the carrier filtered the message",
}

// failure reads Twilio's error body: {"code", "message", "more_info",
// "status"}.
func (t *Twilio) failure(r reply) error {
	e := t.gw.statusError(r)
	var body struct {
		Code     int    `json:"code"`
		Message  string `json:"message"`
		MoreInfo string `json:"more_info"`
	}
	if json.Unmarshal(r.body, &body) != nil {
		e.Message = oneLine(string(r.body))
		return e
	}
	e.Code, e.Message, e.MoreInfo, e.Hint = body.Code, oneLine(body.Message), oneLine(body.MoreInfo), twilioHints[body.Code]
	if body.Code == 20429 {
		e.unavailable = true
	}
	if e.Hint == "" && r.status == http.StatusUnauthorized {
		e.Hint = twilioHints[20003]
	}
	return e
}

// String describes the sender for `gatehouse sms test`.
func (t *Twilio) String() string {
	via := "from " + t.from
	if t.serviceSID != "" {
		via = "messaging service " + t.serviceSID
	}
	return fmt.Sprintf("twilio %s (account %s, %s)", t.gw.shown(), t.accountSID, via)
}
