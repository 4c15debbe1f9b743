package subs

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// SigningSecretPrefix starts every signing secret: "whsec_" then the key
// in standard base64, the Standard Webhooks form subscribers are given.
const SigningSecretPrefix = "whsec_"

// Bounds of a signing key, in bytes: shorter keys are guessable, and
// HMAC-SHA256 would hash a key longer than its 64-byte block first.
const (
	MinSigningKey = 24
	MaxSigningKey = 64
)

// ParseSigningSecret returns the HMAC key of a "whsec_<base64>" secret.
// Its error never quotes the secret.
func ParseSigningSecret(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, SigningSecretPrefix)
	if !ok {
		return nil, errors.New(`does not start with "` + SigningSecretPrefix + `"`)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, errors.New("the part after " + SigningSecretPrefix + " is not standard base64")
	}
	if len(key) < MinSigningKey || len(key) > MaxSigningKey {
		return nil, fmt.Errorf("its key is %d bytes", len(key))
	}
	return key, nil
}

// validateSecrets reports each bad signing secret through bad, naming it
// by its position (1-based), never by its value.
func (s *Subscription) validateSecrets(bad func(field string, value any, allowed string)) {
	for i, secret := range s.SigningSecrets {
		if _, err := ParseSigningSecret(secret); err != nil {
			bad("signing_secrets", fmt.Sprintf("secret %d of %d (value not shown)", i+1, len(s.SigningSecrets)),
				fmt.Sprintf("%v (a secret is %s followed by the standard base64 of a %d to %d byte key)",
					err, SigningSecretPrefix, MinSigningKey, MaxSigningKey))
		}
	}
}

// signingKeys parses the secrets of a subscription that passed Validate;
// one that does not parse is left out (NewSet does not validate).
func signingKeys(secrets []string) [][]byte {
	if len(secrets) == 0 {
		return nil
	}
	keys := make([][]byte, 0, len(secrets))
	for _, secret := range secrets {
		if k, err := ParseSigningSecret(secret); err == nil {
			keys = append(keys, k)
		}
	}
	return keys
}

// SigningKeys returns the HMAC keys of the signing secrets of a
// subscription taken from a Set, in their configured order; nil when it
// has none (its pushes are not signed) or is not in a Set. The slices are
// shared and must not be modified.
func (s *Subscription) SigningKeys() [][]byte { return s.keys }
