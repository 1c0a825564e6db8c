// The agent's decisions about a peer: which consumer it is, and whether it may sign now.
// What each consumer may do comes from the ledger (core/consumer_policy.h); this file only
// applies it.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/ledger.h"
#include "peer.h"

namespace brokerkey::agent {

struct Identification {
  std::optional<std::string> consumer;
  std::string refusal;  // why not, when consumer is empty
};

// A consumer naming the peer's uid wins. Otherwise the one consumer naming one of its groups
// (primary or supplementary); two such consumers are ambiguous and the peer is refused. Root
// is a consumer only where a consumer names uid 0 or one of root's groups.
Identification identify(const LedgerState& state, const Peer& peer);

// One token bucket per consumer: `limit.signatures` may be spent at once, and they come back
// at limit.signatures per limit.period. Kept in memory: a restart refills every bucket.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  // Takes one signature from the consumer's bucket; false when it is empty.
  bool take(const std::string& consumer, const RateLimit& limit, Clock::time_point at = Clock::now());

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point last;
    RateLimit limit;
  };
  std::mutex mutex_;
  std::map<std::string, Bucket> buckets_;
};

}  // namespace brokerkey::agent
