//go:build race

package rpgnet

// raceEnabled: built with -race (the race detector's shadow memory grows with every allocation).
const raceEnabled = true
