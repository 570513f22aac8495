//go:build race

package promrw

const raceEnabled = true
