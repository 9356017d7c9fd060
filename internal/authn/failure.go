package authn

import (
	"errors"
	"fmt"
)

// Failure is a refused credential explained. Err is the precise cause,
// for the server log. Reason and Message may be shown to the holder of
// that same credential (sekisho doctor asks), so they say only what the
// holder can already know or has proven: facts about the credential
// itself (its expiry, its revocation, the account it was issued for once
// its signature verified), never whether some other user, token id or
// object exists.
type Failure struct {
	Reason  FailureReason
	Message string
	Err     error
}

// FailureReason is a refused credential's cause, in a word.
type FailureReason string

// Reasons a credential is refused.
const (
	ReasonUnknown                  FailureReason = "Unknown"
	ReasonCertificateRevoked       FailureReason = "CertificateRevoked"
	ReasonCertificateExpired       FailureReason = "CertificateExpired"
	ReasonCertificateNotYetValid   FailureReason = "CertificateNotYetValid"
	ReasonCertificateUsage         FailureReason = "CertificateNotForClientAuth"
	ReasonCertificateUnknownCA     FailureReason = "CertificateUnknownAuthority"
	ReasonCertificateInvalid       FailureReason = "CertificateInvalid"
	ReasonCertificateEmptyCN       FailureReason = "CertificateEmptyCommonName"
	ReasonClientCertificatesOff    FailureReason = "ClientCertificatesNotAccepted"
	ReasonTokenUnknown             FailureReason = "TokenUnknown"
	ReasonTokenTooLarge            FailureReason = "TokenTooLarge"
	ReasonTokenInvalid             FailureReason = "TokenInvalid"
	ReasonTokenExpired             FailureReason = "TokenExpired"
	ReasonTokenAudience            FailureReason = "TokenWrongAudience"
	ReasonServiceAccountGone       FailureReason = "ServiceAccountDeleted"
	ReasonBoundObjectGone          FailureReason = "BoundObjectDeleted"
	ReasonTokenNotForAuthn         FailureReason = "TokenNotForAuthentication"
	ReasonTokenClaimsRejected      FailureReason = "TokenClaimsRejected"
	ReasonWebhookError             FailureReason = "TokenWebhookError"
	ReasonProxyNotAllowed          FailureReason = "ProxyNotAllowed"
	ReasonIdentityHeadersMalformed FailureReason = "IdentityHeadersMalformed"
)

// Fail wraps err as a Failure with a message for the credential's holder.
func Fail(reason FailureReason, message string, err error) error {
	return &Failure{Reason: reason, Message: message, Err: err}
}

// Failf is Fail with err formatted; the message for the holder is the
// same text.
func Failf(reason FailureReason, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Failure{Reason: reason, Message: err.Error(), Err: err}
}

func (f *Failure) Error() string { return f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }

// UnknownTokenMessage is what the holder of a token no authenticator
// recognises is told. A bootstrap token whose id exists but whose secret is
// wrong gets the same words: telling them apart would tell a guesser which
// token ids exist.
const UnknownTokenMessage = "no token authenticator recognises this token: it is unknown, mistyped, or was deleted"

// Explain returns the first Failure in err (a chain's joined errors are
// searched in order), or a generic one that discloses nothing.
func Explain(err error) *Failure {
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	return &Failure{Reason: ReasonUnknown, Message: "the credentials were not accepted", Err: err}
}
