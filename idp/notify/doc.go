// Package notify owns outgoing email and text messages: the Message a
// feature wants sent, the Notifier that sends it, the templates that write
// it, the SMSSender that sends a text, and the choice, made once from the
// config at start-up, of how each leaves the process. For email:
//
//   - SMTP (New): smtp.host is set. STARTTLS (the default, never silently
//     downgraded), implicit TLS or, for a loopback relay, none; AUTH PLAIN
//     or LOGIN, whichever the server offers, and only over TLS or to
//     loopback; one deadline (smtp.timeout, 10 s by default) over the whole
//     exchange, so a stalled server cannot hold a request.
//   - the dev mail sink (NewSink): dev mode without smtp.host. Each message
//     becomes an .eml file in <data_dir>/mail/ and a log line that names
//     the file and carries the text part, so a developer can click the link.
//   - NotConfigured: neither. Send returns ErrNotConfigured; the caller
//     decides at start-up which features need email.
//
// Every message is built the same way whoever delivers it: headers refused
// if they hold CR or LF, addresses parsed with net/mail, a non-ASCII
// Subject in RFC 2047 Q-encoding, multipart/alternative text and HTML in
// UTF-8 quoted-printable, a random Message-ID at the sender's domain and a
// Date from the injected clock.
//
// A failed SMTP send returns a *SendError carrying the server's reply code
// and text (or the network error) and whether it is temporary (4xx,
// network, timeout) or permanent (5xx, TLS or configuration); the caller
// logs it and shows the user a generic message.
//
// Templates (LoadTemplates) are embedded and may be replaced file by file
// from mail.templates_dir; every template is parsed and test-rendered at
// load, so a broken override stops start-up instead of a send.
//
// For SMS (SMSFromConfig, sms.provider):
//
//   - twilio (NewTwilio): a form POST to Twilio's Messages API with Basic
//     auth; Twilio's error codes become log lines that say what to fix.
//   - webhook (NewWebhook): a JSON POST {"to", "text"} to one URL, signed
//     with HMAC-SHA256 over a timestamp and the body when a secret is set
//     (SignWebhook), for any gateway behind a small adapter.
//   - the dev SMS sink (NewSMSSink): dev mode without a provider, or
//     provider dev. Each text becomes a log line and a file in
//     <data_dir>/sms/; it never fails to deliver.
//   - SMSNotConfigured: none of these. SendSMS returns ErrSMSNotConfigured.
//
// Both HTTP providers bound the whole send by sms.timeout, retry exactly
// once on a network error or a 5xx (never on a 4xx: the gateway has
// decided), send a User-Agent, follow no redirects and read at most 64 KiB
// of an answer. A failure is an *SMSError that wraps ErrSMSUnavailable
// (timeout, refused, 5xx, 429: try later) or ErrSMSRejected (4xx: bad
// credentials, invalid or blocked number); its text names the gateway's
// code and never a credential or the URL's query. Success log lines mask
// the number and never carry the text, which holds a code.
//
// It must not decide who gets mail or when (that is the features':
// invite, reset, password change), must not store anything (the sink's
// files are for people, not for reading back), must not log secrets (the
// SMTP password, the Twilio token, the webhook secret; message bodies and
// texts are logged by the dev sinks only), and reads no config beyond the
// smtp, mail and sms sections and, for the dev sinks, dev and data_dir.
package notify
