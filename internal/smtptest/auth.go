package smtptest

import (
	"errors"

	"github.com/emersion/go-sasl"
)

// Mechanism names, as advertised in EHLO.
const (
	Plain = sasl.Plain
	Login = "LOGIN"
)

// loginServer is the server side of AUTH LOGIN, which go-sasl no longer
// ships: a username and a password, each asked for in turn. The client may
// send the username as the initial response.
type loginServer struct {
	username string
	step     int
	check    func(username, password string) error
}

func (s *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch s.step {
	case 0:
		s.step = 1
		if response == nil {
			return []byte("Username:"), false, nil
		}
		fallthrough
	case 1:
		s.username, s.step = string(response), 2
		return []byte("Password:"), false, nil
	case 2:
		s.step = 3
		return nil, true, s.check(s.username, string(response))
	}
	return nil, false, errors.New("unexpected response")
}
