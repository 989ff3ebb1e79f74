package keyadmin

import "testing"

func TestGrouped(t *testing.T) {
	for n, want := range map[int]string{
		0: "0", 7: "7", 999: "999", 1000: "1,000", 65536: "65,536", 66012: "66,012", 1234567: "1,234,567", -65536: "-65,536",
	} {
		if got := grouped(n); got != want {
			t.Errorf("grouped(%d) = %q, want %q", n, got, want)
		}
	}
}
