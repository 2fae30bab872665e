//go:build !race

package transform

// slowdown scales the timeouts of tests whose code must finish.
const slowdown = 1
