//go:build race

package transform

// slowdown scales the timeouts of tests whose code must finish: the race
// detector makes goja five to ten times slower.
const slowdown = 10
