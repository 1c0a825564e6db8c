// The one seam between the module's PKCS#11 surface (bridge.cpp, sessions, objects) and where
// the key really is. The configuration's mode picks the implementation at C_Initialize:
//  - embedded (embedded_source.cpp): the backend module is loaded in this process; the view is
//    built from the ledger and checked against the backend; consumer PINs are checked against
//    the configuration; this process writes the signing log.
//  - client (agent_source.cpp): every answer comes from brokerkey-agent over its socket; the
//    agent checks the login, signs and writes the signing log. No broker file is read, and
//    the backend module is never loaded.
//  - no configuration at all (unconfigured_source.cpp): no token in either slot.
// Both show the same slots, objects and attributes (docs/ATTRIBUTES.md), built by
// build_key_objects from a KeyRecord.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/backend.h"
#include "core/bytes.h"
#include "core/config.h"
#include "core/error.h"
#include "objects.h"
#include "token_view.h"

namespace brokerkey {

class KeySource {
 public:
  virtual ~KeySource() = default;

  // What the slots show now (a rotation is seen at the next call). Never throws for a broker
  // that cannot be reached or read: the view then shows no token, and says why in
  // TokenView::unavailable when calls on open sessions must fail with CKR_DEVICE_REMOVED.
  virtual std::shared_ptr<const TokenView> view() = 0;

  // Whether C_Login may be called without a PIN (CKF_PROTECTED_AUTHENTICATION_PATH): the
  // consumer is then the one the caller's own account is mapped to.
  virtual bool protected_authentication_path() const = 0;

  // Logs `slot` in: with a consumer PIN ("NAME:SECRET"), or with none on the protected
  // authentication path. Returns the consumer's name. Throws CKR_PIN_INCORRECT when the
  // login is refused, CKR_DEVICE_REMOVED when the broker cannot be reached.
  virtual std::string login(SlotRole slot, std::optional<ByteView> pin) = 0;
  // Forgets the slot's login (and any PIN kept for it). Never throws.
  virtual void logout(SlotRole slot) noexcept = 0;

  // A signature by `key` over `data` for `consumer`, logged in on `slot`. A signature leaves
  // only after its record in the signing log is durable. Throws key_withdrawn_since_sign_init()
  // when the key is no longer shown (revoked, retired, out of its overlap window).
  virtual Signature sign(SlotRole slot, const std::string& consumer, const KeyRecord& key,
                         ByteView data) = 0;
};

// The refusal of a signature whose key was withdrawn between C_SignInit and C_Sign or
// C_SignFinal: CKR_FUNCTION_REJECTED, the one refusal both functions' lists (PKCS#11 3.0
// 5.13.2, 5.13.4) have; CKR_KEY_HANDLE_INVALID is C_SignInit's, not theirs.
inline Error key_withdrawn_since_sign_init() {
  return Error(CKR_FUNCTION_REJECTED, "the key was revoked or retired after C_SignInit");
}

std::unique_ptr<KeySource> make_embedded_source(const Config& config);
std::unique_ptr<KeySource> make_agent_source(const Config& config);
// For a process with no brokerkey configuration at all (find_config() found none): both slots
// without a token, so a program that loads every module p11-kit registers lists this one as
// empty instead of failing and printing an error for every user who is not a consumer.
std::unique_ptr<KeySource> make_unconfigured_source();

}  // namespace brokerkey
