package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// moduleRoot is the repository root, two levels up from this package.
const moduleRoot = "../.."

// source is one parsed non-test Go file.
type source struct {
	path string // slash-separated, relative to the module root
	file *ast.File
	fset *token.FileSet
}

func parseModule(t *testing.T) []source {
	t.Helper()
	var out []source
	fset := token.NewFileSet()
	err := filepath.WalkDir(moduleRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name != ".." && name != "." && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(moduleRoot, p)
		out = append(out, source{path: filepath.ToSlash(rel), file: f, fset: fset})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 50 {
		t.Fatalf("parsed %d files; the walk did not find the module", len(out))
	}
	return out
}

func under(path string, dirs ...string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(path, d+"/") {
			return true
		}
	}
	return false
}

// stepWriters may write auth requests: the flow, and the storage that
// implements the writes.
var stepWriters = []string{"idp/authflow", "idp/storage"}

// TestOnlyTheFlowWritesAuthRequests: an auth request's step moves only
// through idp/authflow. Outside it (and the storage backends), no
// production code creates or updates an auth request row, assigns a Step
// field, or sets Step in a storage.AuthRequest literal. The OIDC door's
// private step and the UI's second write of the request are the bugs this
// keeps out.
func TestOnlyTheFlowWritesAuthRequests(t *testing.T) {
	for _, s := range parseModule(t) {
		if under(s.path, stepWriters...) {
			continue
		}
		ast.Inspect(s.file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				// A method value or call; the OIDC door's op.Storage
				// method of that name is a declaration, not a selector.
				if n.Sel.Name == "CreateAuthRequest" || n.Sel.Name == "UpdateAuthRequest" {
					t.Errorf("%s: %s is used outside idp/authflow", s.fset.Position(n.Pos()), n.Sel.Name)
				}
			case *ast.AssignStmt:
				for _, lhs := range n.Lhs {
					if sel, ok := lhs.(*ast.SelectorExpr); ok && sel.Sel.Name == "Step" {
						t.Errorf("%s: a Step field is assigned outside idp/authflow", s.fset.Position(sel.Pos()))
					}
				}
			case *ast.CompositeLit:
				if typeName(n.Type) == "storage.AuthRequest" {
					for _, el := range n.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok && identName(kv.Key) == "Step" {
							t.Errorf("%s: an AuthRequest literal sets Step outside idp/authflow", s.fset.Position(kv.Pos()))
						}
					}
				}
			}
			return true
		})
	}
}

// TestPagesDoNotReadSteps: the pages render the flow's outcomes; they
// never look at a request's step, nor start sessions.
func TestPagesDoNotReadSteps(t *testing.T) {
	for _, s := range parseModule(t) {
		if !under(s.path, "ui") {
			continue
		}
		ast.Inspect(s.file, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			switch {
			case identName(sel.X) == "authflow" && (strings.HasPrefix(sel.Sel.Name, "Step") || sel.Sel.Name == "Issued" || sel.Sel.Name == "Finished"):
				t.Errorf("%s: the pages read the flow's step (authflow.%s)", s.fset.Position(sel.Pos()), sel.Sel.Name)
			case sel.Sel.Name == "Step":
				t.Errorf("%s: the pages read a Step field", s.fset.Position(sel.Pos()))
			case sel.Sel.Name == "Start" || sel.Sel.Name == "Create":
				t.Errorf("%s: the pages start a session (%s); the flow does", s.fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
}

// TestOnlyTheFlowCountsGuesses: a guess at a secret is counted where the
// login is decided, and nowhere else. Outside idp/authflow (and idp/lockout
// itself) no production code reserves a guess, but for the one secret
// checked outside a login: the current password of a password change
// (idp/selfservice, through the adapter idp/instance wires in), so no page or method can
// skip, double or settle the count on its own; and only idp/lockout (over
// the storage that implements them) touches the attempt counters, so no
// other package can reset or forge a lock by writing them.
func TestOnlyTheFlowCountsGuesses(t *testing.T) {
	counters := map[string]bool{"ReserveAttempt": true, "ReleaseAttempt": true, "ResetAttempts": true, "GetAttempts": true}
	for _, s := range parseModule(t) {
		ast.Inspect(s.file, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			switch {
			case sel.Sel.Name == "Reserve" && !under(s.path, "idp/authflow", "idp/lockout", "idp/selfservice", "idp/instance"):
				t.Errorf("%s: Reserve is called outside idp/authflow; the flow alone counts guesses", s.fset.Position(sel.Pos()))
			case counters[sel.Sel.Name] && !under(s.path, "idp/lockout", "idp/storage"):
				t.Errorf("%s: %s is used outside idp/lockout", s.fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
}

func typeName(e ast.Expr) string {
	if sel, ok := e.(*ast.SelectorExpr); ok {
		return identName(sel.X) + "." + sel.Sel.Name
	}
	return identName(e)
}

func identName(e ast.Expr) string {
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}
