// An Ed25519 public key, its fingerprint, and every encoding brokerkey reads or writes it in.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "core/bytes.h"

namespace brokerkey {

struct PublicKey {
  std::array<std::uint8_t, 32> raw{};
  bool operator==(const PublicKey&) const = default;
};

// SHA-256 over the raw 32-byte public key: the only identity of a broker key.
struct Fingerprint {
  Sha256 bytes{};
  bool operator==(const Fingerprint&) const = default;
  auto operator<=>(const Fingerprint&) const = default;

  std::string hex() const;  // 64 lowercase hex characters
  // Accepts exactly 64 hex characters; throws invalid_input otherwise.
  static Fingerprint from_hex(std::string_view text);
};

Fingerprint fingerprint_of(const PublicKey& key);

// CKA_EC_PARAMS as PKCS#11 3.0 specifies for Ed25519: DER PrintableString "edwards25519".
ByteView ec_params_edwards25519();
// The same curve named by its OID (1.3.101.112), which some backends want instead.
ByteView ec_params_ed25519_oid();
// CKA_EC_POINT as brokerkey presents it: DER OCTET STRING of the 32 bytes.
Bytes ec_point_der(const PublicKey& key);
// Backends differ: accepts the raw 32 bytes, a DER OCTET STRING or a DER BIT STRING.
PublicKey public_key_from_ec_point(ByteView value);

// OpenSSH forms: the wire blob, "ssh-ed25519 AAAA... comment", and "SHA256:..." (unpadded).
Bytes ssh_wire_blob(const PublicKey& key);
std::string ssh_public_key_line(const PublicKey& key, std::string_view comment);
std::string ssh_fingerprint(const PublicKey& key);

// X.509 SubjectPublicKeyInfo, DER and PEM.
Bytes spki_der(const PublicKey& key);
std::string spki_pem(const PublicKey& key);

// Pure Ed25519 verification.
bool ed25519_verify(const PublicKey& key, ByteView message, ByteView signature);

}  // namespace brokerkey
