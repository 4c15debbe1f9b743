package redact

// SecretMask is how a subscription's signing secret is shown: its
// "whsec_" form with the key masked, one per secret, so a reader sees how
// many there are and never a value.
const SecretMask = "whsec_" + Mask

// Secrets returns list with every secret replaced by SecretMask; nil when
// list is empty.
func Secrets(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	out := make([]string, len(list))
	for i := range out {
		out[i] = SecretMask
	}
	return out
}

// SecretsMasked reports whether list holds a masked secret (what Secrets
// shows), which is never a valid secret of its own.
func SecretsMasked(list []string) bool {
	for _, s := range list {
		if s == SecretMask {
			return true
		}
	}
	return false
}
