//go:build !race

package eventstore_test

// raceEnabled: see race_test.go.
const raceEnabled = false
