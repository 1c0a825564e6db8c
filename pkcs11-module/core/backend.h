// The one narrow interface between brokerkey and the key store. The module and the keytool
// reach the backend only through it, so a second kind of backend (a signing process behind a
// socket) can be added without touching the module's PKCS#11 surface.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/ed25519.h"

namespace brokerkey {

using Signature = std::array<std::uint8_t, 64>;

// A key pair as the backend holds it, identified by its CKA_ID.
struct BackendKey {
  Bytes id;  // 32 fingerprint bytes for a committed key; anything else is a leftover
  std::string label;
  std::optional<PublicKey> public_key;  // from the public key object, if there is one
  bool has_private_key = false;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // The key pair whose CKA_ID is the fingerprint, or nullopt.
  virtual std::optional<BackendKey> find_key(const Fingerprint& fingerprint) = 0;
  // Pure Ed25519 signature by the private key whose CKA_ID is the fingerprint.
  virtual Signature sign(const Fingerprint& fingerprint, ByteView message) = 0;
  // Mints a non-extractable key pair labelled `label`, sets its CKA_ID to the fingerprint of
  // its public key, and returns that public key.
  virtual PublicKey generate(std::string_view label) = 0;
  // Destroys the private key (and public key object) whose CKA_ID is the fingerprint.
  virtual void destroy(const Fingerprint& fingerprint) = 0;
  // Destroys every object with this CKA_ID: a key no ledger record committed.
  virtual void destroy_by_id(ByteView id) = 0;
  // Every key pair on the backend token, for health checks.
  virtual std::vector<BackendKey> list_keys() = 0;
};

}  // namespace brokerkey
