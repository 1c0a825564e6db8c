#include "policy.h"

#include <algorithm>

namespace brokerkey::agent {

Identification identify(const LedgerState& state, const Peer& peer) {
  std::vector<std::string> by_group;
  for (const auto& [name, policy] : state.policies) {
    if (policy.uids.count(peer.uid)) return {name, {}};
    bool member = policy.groups.count(peer.gid) > 0 ||
                  std::any_of(peer.groups.begin(), peer.groups.end(),
                              [&groups = policy.groups](gid_t g) { return groups.count(g) > 0; });
    if (member) by_group.push_back(name);
  }
  if (by_group.size() == 1) return {by_group.front(), {}};
  if (by_group.empty()) return {std::nullopt, "uid " + std::to_string(peer.uid) + " maps to no consumer"};
  return {std::nullopt, "uid " + std::to_string(peer.uid) + " is in the groups of several consumers (" +
                            by_group[0] + ", " + by_group[1] + "); map its uid to one"};
}

bool RateLimiter::take(const std::string& consumer, const RateLimit& limit, Clock::time_point at) {
  std::lock_guard lock(mutex_);
  auto [it, fresh] = buckets_.try_emplace(consumer);
  Bucket& bucket = it->second;
  double capacity = limit.signatures;
  if (fresh || bucket.limit != limit) {
    // A new or changed policy starts with a full bucket of its own size.
    bucket = {capacity, at, limit};
  } else {
    std::chrono::duration<double> elapsed = at - bucket.last;
    double per_second = capacity / static_cast<double>(limit.period.count());
    bucket.tokens = std::min(capacity, bucket.tokens + elapsed.count() * per_second);
    bucket.last = at;
  }
  if (bucket.tokens < 1.0) return false;
  bucket.tokens -= 1.0;
  return true;
}

}  // namespace brokerkey::agent
