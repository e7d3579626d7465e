package notify

import (
	"errors"
	"net/smtp"
	"strings"

	"github.com/gatehouse-idp/gatehouse/config"
)

// plainAuth is AUTH PLAIN (RFC 4616). net/smtp has one, but it decides
// "loopback" from the host name alone; here the caller decides from the
// name and the connection (see loopback), and Start checks again at the
// moment the password would leave.
type plainAuth struct {
	username string
	password config.Secret
	clearOK  bool
}

func (a *plainAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !a.clearOK {
		return "", nil, ErrCleartextAuth
	}
	return "PLAIN", []byte("\x00" + a.username + "\x00" + a.password.Reveal()), nil
}

func (a *plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected challenge after AUTH PLAIN")
	}
	return nil, nil
}

// loginAuth is the AUTH LOGIN that net/smtp lacks and some servers
// (Exchange, older relays) still require: the username, then the
// password, each in answer to a prompt.
type loginAuth struct {
	username string
	password config.Secret
	clearOK  bool
	step     int
}

func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !a.clearOK {
		return "", nil, ErrCleartextAuth
	}
	a.step = 0
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(prompt []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	a.step++
	p := strings.ToLower(string(prompt))
	switch {
	case strings.Contains(p, "user"), a.step == 1 && !strings.Contains(p, "pass"):
		return []byte(a.username), nil
	case strings.Contains(p, "pass"), a.step == 2:
		return []byte(a.password.Reveal()), nil
	}
	return nil, errors.New("unexpected AUTH LOGIN challenge")
}

var (
	_ smtp.Auth = (*plainAuth)(nil)
	_ smtp.Auth = (*loginAuth)(nil)
)
