// The Backend over a PKCS#11 module (SoftHSMv2 by default; any HSM's module in production).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "core/backend.h"
#include "core/backend_module.h"
#include "core/config.h"

namespace brokerkey {

class Pkcs11Backend final : public Backend {
 public:
  // Loads the module, finds the token, logs in with the PIN file's PIN (then wipes it).
  explicit Pkcs11Backend(const BackendConfig& config);
  ~Pkcs11Backend() override;

  std::optional<BackendKey> find_key(const Fingerprint& fingerprint) override;
  Signature sign(const Fingerprint& fingerprint, ByteView message) override;
  PublicKey generate(std::string_view label) override;
  void destroy(const Fingerprint& fingerprint) override;
  void destroy_by_id(ByteView id) override;
  std::vector<BackendKey> list_keys() override;

 private:
  class Lease;
  CK_SESSION_HANDLE acquire_session();
  void release_session(CK_SESSION_HANDLE session, bool reusable);
  CK_OBJECT_HANDLE private_key_handle(const Fingerprint& fingerprint, bool refresh);

  BackendModule module_;
  CK_SLOT_ID slot_;
  CK_SESSION_HANDLE login_session_ = CK_INVALID_HANDLE;  // keeps the login alive

  std::mutex pool_mutex_;
  std::vector<CK_SESSION_HANDLE> idle_sessions_;

  std::shared_mutex handles_mutex_;
  std::map<Fingerprint, CK_OBJECT_HANDLE> private_handles_;
};

// Creates and initialises a new token on a backend that has a free slot (SoftHSM), with the
// given SO and user PINs. Used by `brokerkey init` for the embedded default.
void provision_backend_token(const BackendConfig& config, std::string_view so_pin,
                             std::string_view user_pin);

// Test-only crash points (docs/ARCHITECTURE.md): in a build configured with
// -DBROKERKEY_TEST_HOOKS=ON, if BROKERKEY_TEST_CRASH_AT equals `point`, the process kills itself
// with SIGKILL there. In any other build this does nothing and reads no variable.
void crash_point(std::string_view point);

}  // namespace brokerkey
