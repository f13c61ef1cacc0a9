//go:build race

package eventstore_test

// raceEnabled: the race detector drops sync.Pool's items at random
// (json.Valid's scanners), so allocation counts are not exact under it.
const raceEnabled = true
