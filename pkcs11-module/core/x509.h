// X.509 for the broker key: certificates and CSRs whose Ed25519 signature is made elsewhere
// (through the module), and the fields the module shows on a certificate object.
#pragma once

#include <functional>
#include <string>

#include "core/backend.h"
#include "core/clock.h"
#include "core/ed25519.h"

struct x509_st;  // OpenSSL's X509

namespace brokerkey {

// Signs the DER to-be-signed bytes with the broker key (through the module).
using TbsSigner = std::function<Signature(ByteView tbs)>;

struct CertificateRequest {
  std::string subject;  // "CN=...,O=..." (OpenSSL's one-line form, comma separated)
  PublicKey key;
  TimePoint not_before;
  TimePoint not_after;
};

// A self-signed X.509 v3 certificate (digitalSignature, not a CA), DER. Throws invalid_input
// for a subject it cannot parse, integrity_failed if the signature does not verify.
Bytes make_self_signed_certificate(const CertificateRequest& request, const TbsSigner& sign);
// A PKCS#10 certificate signing request for the organisation's CA, PEM.
std::string make_certificate_request(const CertificateRequest& request, const TbsSigner& sign);

struct CertificateFields {
  Bytes subject;        // DER Name
  Bytes issuer;         // DER Name
  Bytes serial_number;  // DER INTEGER
  TimePoint not_before;
  TimePoint not_after;
  PublicKey key;
};
// Throws integrity_failed unless `der` is an X.509 certificate for an Ed25519 key.
CertificateFields parse_certificate(ByteView der);
// The Ed25519 key of a parsed certificate; throws integrity_failed for any other key.
PublicKey certificate_key(const x509_st* cert);
std::string certificate_pem(ByteView der);

}  // namespace brokerkey
