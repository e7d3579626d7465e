package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/gatehouse-idp/gatehouse/federation"
)

// ErrNoOpener: this server has no connector type of that name to open.
var ErrNoOpener = errors.New("this server cannot open connectors of that type")

// TestConnector opens connector id (in reach, enabled or not) as a login
// would and asks its upstream what is wrong: none is healthy. A connector
// that cannot be opened is itself a problem, "unreachable" when the
// upstream did not answer and "invalid" otherwise, said in plain words;
// the error is for this server's own failures (storage, a type it has no
// opener for).
func (s *Service) TestConnector(ctx context.Context, reach Reach, id string) ([]federation.Problem, error) {
	const op = "test connector"
	c, err := s.connectorInReach(ctx, reach, op, id)
	if err != nil {
		return nil, err
	}
	open := s.Federation.Openers[c.Type]
	if open == nil {
		return nil, fmt.Errorf("%s %q: %w (%s)", op, id, ErrNoOpener, c.Type)
	}
	conn, err := open(ctx, c, s.federationEnv(c.ID))
	if err != nil {
		return []federation.Problem{openProblem(err)}, nil
	}
	if cl, ok := conn.(io.Closer); ok {
		defer cl.Close()
	}
	return conn.Check(ctx), nil
}

// federationEnv is what a connector opened here gets: its secret unsealed
// for its own id only.
func (s *Service) federationEnv(id string) federation.Env {
	f := s.Federation
	unseal := UnsealConnectorSecret(f.Sealer)
	return federation.Env{Issuer: f.Issuer, HTTP: f.HTTP, Assertions: s.Store, Now: s.Now, Dev: f.Dev, Logger: s.logger(),
		Open: func(sealed []byte) ([]byte, error) { return unseal(sealed, id) }}
}

// openProblem says why a connector could not be opened.
func openProblem(err error) federation.Problem {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return federation.Problem{Code: "unreachable",
			Message: fmt.Sprintf("The upstream could not be reached: %v.", err)}
	}
	return federation.Problem{Code: "invalid",
		Message: fmt.Sprintf("The connector cannot be used as it is set up: %v.", err)}
}
