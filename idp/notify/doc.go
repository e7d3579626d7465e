// Package notify owns outgoing email: the Message a feature wants sent,
// the Notifier that sends it, the templates that write it, and the choice,
// made once from the config at start-up, of how it leaves the process:
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
// It must not decide who gets mail or when (that is the features':
// invite, reset, password change), must not store anything (the sink's
// files are for people, not for reading back), must not log secrets (the
// SMTP password; message bodies are logged by the dev sink only), and
// reads no config beyond the smtp and mail sections and, for the dev sink,
// dev and data_dir.
package notify
