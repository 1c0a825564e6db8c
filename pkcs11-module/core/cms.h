// CMS (RFC 5652) detached signatures with Ed25519 (RFC 8419): what git's gpg.x509.program
// writes and reads. One signer, SHA-512 message digest, signed attributes (contentType,
// signingTime, messageDigest), the signer's certificate included, id-Ed25519 over the DER of
// the signed attributes.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/backend.h"
#include "core/clock.h"
#include "core/ed25519.h"

namespace brokerkey {

// Signs the DER SET OF signed attributes with the broker key (through the module).
using SignedAttributesSigner = std::function<Signature(ByteView signed_attributes)>;

// A detached SignedData ContentInfo, DER. Throws integrity_failed when the certificate is not
// an Ed25519 certificate or the signature does not verify with its key.
Bytes make_detached_cms(ByteView certificate_der, ByteView content, TimePoint signing_time,
                        const SignedAttributesSigner& sign);

// The armor gpgsm writes and git recognises: -----BEGIN SIGNED MESSAGE-----.
std::string cms_armor(ByteView der);
// Accepts that armor or raw DER; throws integrity_failed otherwise.
Bytes cms_unarmor(std::string_view text);

// A detached signature taken apart, its structure checked strictly: exactly one signer,
// identified by issuer and serial number among the included certificates, which must be an
// Ed25519 certificate; SHA-512 and id-Ed25519 with absent parameters; signed attributes with
// contentType id-data, exactly one signingTime and one 64-byte messageDigest. Throws
// integrity_failed naming the first thing that is wrong.
struct CmsSignature {
  Bytes certificate;    // DER, as included
  std::string subject;  // the certificate's subject (RFC 2253)
  PublicKey key;        // the certificate's key
  TimePoint signing_time;
  std::array<std::uint8_t, 64> message_digest{};
  Bytes signed_attributes;  // DER SET OF, what the signature covers
  Signature signature{};
};
CmsSignature parse_detached_cms(ByteView der);

// Why the signature is not good for `content` (its digest differs, or the Ed25519 signature
// over the signed attributes does not verify with the certificate's key); nullopt when it is.
// Which keys to trust is the caller's decision.
std::optional<std::string> cms_signature_fault(const CmsSignature& signature, ByteView content);

}  // namespace brokerkey
