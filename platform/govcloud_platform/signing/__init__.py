"""The box's signing service (docs/signing.md): each agency's signing key and certificate, PAdES signatures
(pyHanko), an RFC 3161 time-stamp authority of our own, compact JWS, and offline verification of signed PDFs."""
