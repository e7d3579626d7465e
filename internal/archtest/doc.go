// Package archtest holds tests of the code's structure that the compiler
// cannot enforce: which packages may write an auth request's step or count
// guesses at secrets, and that the pages never look at the step. It has no
// code of its own and must not be imported.
package archtest
