// Package nsenter links the C constructor in nsenter.c into husk. It has
// no Go API: importing it is what makes `husk init` enter its namespaces
// before the Go runtime starts (see nsenter.c for why and how).
package nsenter

// #cgo CFLAGS: -Wall -O2
import "C"
