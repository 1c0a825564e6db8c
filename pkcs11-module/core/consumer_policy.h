// What a consumer may do through brokerkey-agent: who it is (the kernel's uid and groups of a
// peer), what it may sign, and how often. Set by `brokerkey consumer add` and changed by
// `brokerkey consumer set`; both are ledger records, so every change of policy is audited and
// the agent follows it at the next request (docs/AGENT.md).
#pragma once

#include <sys/types.h>

#include <boost/json/object.hpp>
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace brokerkey {

// What a signature request's data is, as the agent classifies it (agent/classify.h).
enum class Purpose {
  sshsig,    // PROTOCOL.sshsig signed data, with its namespace ("git", "file", ...)
  cms,       // DER signed attributes of a CMS SignerInfo (RFC 5652 section 5.4)
  ssh_auth,  // an SSH user-authentication request (RFC 4252 section 7)
  raw,       // anything else: whoever may sign raw data can forge all of the above
};
std::string_view to_string(Purpose purpose);

// One purpose a consumer is granted. Written "sshsig:NAMESPACE", "cms", "ssh-auth" or "raw".
struct Grant {
  Purpose purpose = Purpose::raw;
  std::string ssh_namespace;  // only for sshsig; "*" grants every namespace
  auto operator<=>(const Grant&) const = default;
  std::string text() const;
  // Throws invalid_input naming the text when it is none of the forms above. A namespace is
  // 1 to 64 characters of [A-Za-z0-9@._+-].
  static Grant parse(std::string_view text);
};

// A token bucket: at most `signatures` in any `period`, refilled continuously.
struct RateLimit {
  unsigned signatures = 120;
  std::chrono::seconds period{60};
  bool operator==(const RateLimit&) const = default;
  std::string text() const;  // "120/60s"
  // "N/PERIOD" where PERIOD is a number of seconds with an optional unit s, m, h or d;
  // 1 <= N <= 1000000 and 1 s <= PERIOD <= 1 day. Throws invalid_input otherwise.
  static RateLimit parse(std::string_view text);
};

struct ConsumerPolicy {
  std::set<uid_t> uids;    // peers with one of these uids are this consumer
  std::set<gid_t> groups;  // or with one of these as primary or supplementary group
  std::set<Grant> grants = default_grants();
  RateLimit rate;

  bool permits(Purpose purpose, std::string_view ssh_namespace) const;

  // git only: SSHSIG namespace "git" and CMS signed attributes.
  static std::set<Grant> default_grants();
};

// The policy fields of a consumer_add or consumer_policy record ("uids", "groups", "allow",
// "rate"); absent fields keep their defaults (records written before the agent existed).
// Throws invalid_input naming the field.
ConsumerPolicy policy_from_record(const boost::json::object& record);
void policy_to_record(const ConsumerPolicy& policy, boost::json::object& record);

}  // namespace brokerkey
