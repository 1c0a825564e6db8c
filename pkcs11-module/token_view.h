// An immutable snapshot of what the module shows: which key each slot holds. In embedded mode
// it is built from the ledger and checked against the backend, and a new snapshot is built
// when the ledger file changes or a time boundary (the end of an overlap window) passes; in
// client mode it is built from brokerkey-agent's view at every call that needs it
// (key_source.h). Calls in flight keep the one they started with.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/config.h"
#include "core/error.h"
#include "core/file_stamp.h"
#include "objects.h"

namespace brokerkey {


struct SlotView {
  std::optional<KeyRecord> key;  // nullopt: no token present
  std::vector<std::shared_ptr<const Object>> objects;
};

struct TokenView {
  FileStamp stamp;
  TimePoint built_at;
  TimePoint valid_until;  // the next time boundary
  SlotView slots[2];      // indexed by SlotRole
  // Set when the broker cannot be reached (client mode: brokerkey-agent is down, restarting,
  // or refuses this account): no token is shown, and calls on open sessions fail with
  // CKR_DEVICE_REMOVED (ModuleState::session_view).
  std::optional<Error> unavailable;

  const SlotView& slot(SlotRole role) const { return slots[static_cast<std::size_t>(role)]; }
  // Whether either slot shows the key with this fingerprint.
  bool shows(const Fingerprint& fingerprint) const;
  // Any object of either slot, by handle.
  std::shared_ptr<const Object> object(CK_OBJECT_HANDLE handle) const;
};

// Reads and verifies the ledger, checks each key it shows against the backend, and logs every
// reason a slot is left empty. Never throws for a bad ledger or backend: it shows no key.
std::shared_ptr<const TokenView> build_token_view(const Config& config, Backend& backend,
                                                  HandleRegistry& handles, TimePoint at);

}  // namespace brokerkey
