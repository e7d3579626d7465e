// Package testenv decides, for tests, which real components are available:
// a PostgreSQL server (GATEHOUSE_TEST_POSTGRES) and later Chromium.
//
// A suite whose component is missing is skipped with a reason, unless
// GATEHOUSE_TEST_REQUIRE names the component (CI sets it): then the suite
// fails, so that CI can never pass by skipping.
//
// It must only be imported from tests and test helpers.
package testenv
