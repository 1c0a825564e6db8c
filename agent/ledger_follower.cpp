#include "ledger_follower.h"

#include <chrono>
#include <thread>

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
  // Right after another process changed the token (brokerkey rotate makes the key pair under
  // a pending CKA_ID, then gives both halves the fingerprint, then records it), SoftHSM
  // searched by several agent threads at once was seen to answer from objects it had not yet
  // reloaded: one half of the new key found, the other not, for a few milliseconds. So a key
  // that is not proven is looked for again, briefly, before the agent says the backend lacks
  // it (agent_load_test: no request may fail across a rotation). A proven key is not asked.
  bool ok = false;
  for (int look = 0; look < 5 && !ok; ++look) {
    if (look > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::optional<BackendKey> found = backend_.find_key(key.fingerprint);
    ok = found && found->has_private_key && found->public_key && *found->public_key == key.public_key;
  }
  if (ok) {
    std::lock_guard lock(mutex_);
    proven_.insert(key.fingerprint);
  }
  return ok;
}

}  // namespace brokerkey::agent
