// Package smtptest runs a real SMTP server in-process, on loopback, for
// tests of anything that sends email: the notify package's own tests, and
// end-to-end and browser tests of invite and forgot-password pages.
//
// A test starts one with the connection security and authentication it
// wants, points the code under test at Host and Port (trusting RootCAs for
// TLS), and reads what arrived:
//
//	srv := smtptest.Start(t, smtptest.WithSTARTTLS(), smtptest.WithAuth("mailer", "pw"))
//	// … configure the sender with srv.Host(), srv.Port(), srv.RootCAs() …
//	msg := srv.Wait(t, "alice@example.com", 5*time.Second)
//	link := msg.Link(t, issuer+"/reset/")
//
// Faults are switches on a running server: RejectRecipients (550),
// FailTemporarily (451), Stop and Restart on the same port (SMTP down,
// then back), and Unresponsive, a listener that accepts connections and
// never says a word (a frozen relay).
//
// It owns only test plumbing. It must not be imported by production code
// (it is under internal/ and takes a testing.TB), must not listen on
// anything but loopback, and must not depend on Gatehouse packages: what
// it checks is the bytes on the wire, so it stays a neutral witness.
//
// The server is github.com/emersion/go-smtp; the client side of a test is
// whatever the code under test uses.
package smtptest
