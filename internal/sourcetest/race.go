//go:build race

package sourcetest

// raceEnabled reports a build with the race detector.
const raceEnabled = true
