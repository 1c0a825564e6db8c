// Sessions, their running operations, and the login state they share per slot.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/ed25519.h"
#include "objects.h"

namespace brokerkey {

struct FindOperation {
  std::vector<CK_OBJECT_HANDLE> results;
  std::size_t next = 0;
};

// Ed25519 cannot be computed incrementally, so multi-part data is collected here and signed
// in one backend call; the key is fixed at init so a rotation cannot redirect it.
struct SignOperation {
  KeyRecord key;
  Bytes data;
  bool multi_part = false;
};

struct VerifyOperation {
  PublicKey key;
  Bytes data;
  bool multi_part = false;
};

struct Session {
  Session(CK_SESSION_HANDLE h, SlotRole s, CK_FLAGS f) : handle(h), slot(s), flags(f) {}
  const CK_SESSION_HANDLE handle;
  const SlotRole slot;
  const CK_FLAGS flags;

  // Guards the operations below: one call at a time per session.
  std::mutex mutex;
  std::optional<FindOperation> find;
  std::optional<SignOperation> sign;
  std::optional<VerifyOperation> verify;
};

class SessionTable {
 public:
  std::shared_ptr<Session> open(SlotRole slot, CK_FLAGS flags);
  // Throws session_handle_invalid.
  std::shared_ptr<Session> get(CK_SESSION_HANDLE handle) const;
  // Returns true if that was the slot's last session (the slot is then logged out).
  bool close(CK_SESSION_HANDLE handle);
  void close_all(SlotRole slot);
  std::size_t count(SlotRole slot, bool read_write_only) const;

  // Login is per slot (token), shared by all its sessions. The consumer name, if logged in.
  std::optional<std::string> consumer(SlotRole slot) const;
  void set_consumer(SlotRole slot, std::optional<std::string> consumer);
  // CKF_USER_PIN_COUNT_LOW: a wrong PIN was given on the slot since its last successful login
  // (in this process).
  bool wrong_pin_since_login(SlotRole slot) const;
  void set_wrong_pin_since_login(SlotRole slot, bool wrong);

 private:
  mutable std::mutex mutex_;
  std::map<CK_SESSION_HANDLE, std::shared_ptr<Session>> sessions_;
  CK_SESSION_HANDLE next_ = 1;
  std::optional<std::string> consumers_[2];
  bool wrong_pin_[2] = {false, false};
};

}  // namespace brokerkey
