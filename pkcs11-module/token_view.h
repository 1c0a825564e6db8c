// An immutable snapshot of what the module shows: which key each slot holds, built from the
// ledger and checked against the backend. A new snapshot is built when the ledger file changes
// or a time boundary (the end of an overlap window) passes; calls in flight keep the one they
// started with.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/config.h"
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
