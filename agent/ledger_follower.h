// The ledger as the agent sees it: folded again whenever the file changes (the same fold and
// the same change test as the module's token view), so a rotation, retirement or revocation
// reaches the agent at its next request without a restart.
#pragma once

#include <memory>
#include <mutex>
#include <set>

#include "core/backend.h"
#include "core/file_stamp.h"
#include "core/ledger.h"

namespace brokerkey::agent {

class LedgerFollower {
 public:
  LedgerFollower(fs::path ledger, Backend& backend) : ledger_(std::move(ledger)), backend_(backend) {}

  // The folded ledger as the file is now. Throws (integrity_failed, file_error, config_bad)
  // when it cannot be read or does not verify: then nothing is signed.
  std::shared_ptr<const LedgerState> state();

  // Whether the backend holds `key` with the ledger's public key, so a signature by it
  // verifies with what the ledger published. Remembered per fingerprint once proven.
  bool proven(const KeyRecord& key);

  const fs::path& path() const { return ledger_.path(); }

 private:
  Ledger ledger_;
  Backend& backend_;
  std::mutex mutex_;
  FileStamp stamp_;
  std::shared_ptr<const LedgerState> state_;
  std::set<Fingerprint> proven_;
};

}  // namespace brokerkey::agent
