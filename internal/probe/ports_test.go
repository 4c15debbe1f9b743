package probe

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Servers get ports where outgoing connections never take theirs: below
// the ephemeral range when there is room, else above it, else the
// kernel's pick.
func TestServerPortsAvoidTheEphemeralRange(t *testing.T) {
	for _, c := range []struct{ ephLo, ephHi, lo, hi int }{
		{32768, 60999, 22768, 32768},
		{5000, 40000, 40001, 50001},
		{1024, 65535, 0, 0},
	} {
		lo, hi := serverPorts(c.ephLo, c.ephHi)
		assert.Equal(t, [2]int{c.lo, c.hi}, [2]int{lo, hi}, "ephemeral %d-%d", c.ephLo, c.ephHi)
	}

	ephLo, ephHi := ephemeralRange()
	lo, hi := serverPorts(ephLo, ephHi)
	for range 20 {
		p, err := FreePort()
		require.NoError(t, err)
		if hi > lo {
			assert.True(t, p >= lo && p < hi, "port %d outside %d-%d (ephemeral %d-%d)", p, lo, hi, ephLo, ephHi)
		}
	}
}
