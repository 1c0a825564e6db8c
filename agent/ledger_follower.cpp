#include "ledger_follower.h"

namespace brokerkey::agent {

std::shared_ptr<const LedgerState> LedgerFollower::state() {
  std::lock_guard lock(mutex_);
  FileStamp stamp = stamp_of(ledger_.path());
  if (!state_ || stamp != stamp_) {
    state_.reset();  // a ledger that stops verifying must not leave its old state behind
    auto folded = std::make_shared<const LedgerState>(ledger_.state());
    state_ = std::move(folded);
    stamp_ = stamp;
  }
  return state_;
}

bool LedgerFollower::proven(const KeyRecord& key) {
  {
    std::lock_guard lock(mutex_);
    if (proven_.count(key.fingerprint)) return true;
  }
  std::optional<BackendKey> found = backend_.find_key(key.fingerprint);
  bool ok = found && found->has_private_key && found->public_key && *found->public_key == key.public_key;
  if (ok) {
    std::lock_guard lock(mutex_);
    proven_.insert(key.fingerprint);
  }
  return ok;
}

}  // namespace brokerkey::agent
