package e2e

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
)

// TestImportedBcryptUserSignsIn: a user imported from another IdP with a
// bcrypt hash signs in with the old password through the real login, and
// the stored hash is argon2id afterwards.
func TestImportedBcryptUserSignsIn(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		const pw = "the password from before"
		bc, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		users, err := h.inst.Admin.ImportUsers(h.ctx, "test", "default", []admin.ImportUser{
			{Email: "imported@example.com", EmailVerified: true, PasswordHash: "$2b$" + string(bc)[4:]}})
		if err != nil || len(users) != 1 {
			t.Fatalf("ImportUsers = %v, %v", users, err)
		}
		secret := h.client("web", nil)
		b := h.browser()
		q, verifier := withPKCE(nil)
		l := loginResult{b: b, q: b.login(b.get(h.authURL("web", q)), "imported@example.com", pw).callback(t), verifier: verifier}
		h.mustExchange("web", secret, l)
		if stored := h.storedUser(users[0].ID).PasswordHash; !strings.HasPrefix(stored, "$argon2id$") {
			t.Fatalf("after the login the hash is %.10q…; want argon2id", stored)
		}
	})
}
