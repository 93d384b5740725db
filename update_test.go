package main

import "testing"

// ramInBytes accepts what runc's go-units RAMInBytes accepts (binary
// multiples, optional i and b) and rejects the rest.
func TestRAMInBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"-1": -1, "512": 512, "100k": 100 << 10, "64m": 64 << 20, "1.5g": 3 << 29, "2GiB": 2 << 30,
		"10 MB": 10 << 20, "1kb": 1 << 10, "1ki": 1 << 10, "5b": 5, "5ib": 5, " 7T ": 7 << 40, "1p": 1 << 50,
	} {
		if got, err := ramInBytes(in); err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "1.2.3", ".5", "5.", "5x", "-5", "5k b", "5kk", "5bi", "k"} {
		if got, err := ramInBytes(in); err == nil {
			t.Errorf("%q: %d, want an error", in, got)
		}
	}
}
