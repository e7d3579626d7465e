// Package instance assembles one running Gatehouse from a config.Config:
// it opens and migrates storage, loads (or in dev mode creates) the master
// key, and wires the password hasher, audit recorder, admin service and
// HTTP routes. The CLI and the end-to-end tests both build an Instance, so
// what the tests run is what `gatehouse serve` runs.
//
// It owns wiring only: no business rules, no protocol logic. Those belong
// to the packages it wires.
package instance
