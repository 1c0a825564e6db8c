#include "core/consumer_policy.h"

#include <boost/json.hpp>
#include <charconv>

#include "core/error.h"

namespace brokerkey {

namespace json = boost::json;

namespace {

bool valid_namespace(std::string_view text) {
  if (text.empty() || text.size() > 64) return false;
  for (char c : text) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '@' || c == '.' || c == '_' || c == '+' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<unsigned long> parse_number(std::string_view text) {
  unsigned long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

template <typename Id>
std::set<Id> ids_from(const json::object& record, std::string_view field) {
  std::set<Id> ids;
  const json::value* value = record.if_contains(field);
  if (!value) return ids;
  if (!value->is_array()) throw invalid_input("'" + std::string(field) + "' is not a list of ids");
  for (const json::value& item : value->as_array()) {
    if (!item.is_int64() || item.as_int64() < 0 || item.as_int64() > 0xFFFFFFFEll) {
      throw invalid_input("'" + std::string(field) + "' holds something that is not a valid id");
    }
    ids.insert(static_cast<Id>(item.as_int64()));
  }
  return ids;
}

}  // namespace

std::string_view to_string(Purpose purpose) {
  switch (purpose) {
    case Purpose::sshsig: return "sshsig";
    case Purpose::cms: return "cms";
    case Purpose::ssh_auth: return "ssh-auth";
    case Purpose::raw: return "raw";
  }
  return "raw";
}

std::string Grant::text() const {
  return purpose == Purpose::sshsig ? "sshsig:" + ssh_namespace : std::string(to_string(purpose));
}

Grant Grant::parse(std::string_view text) {
  if (text == "cms") return {Purpose::cms, {}};
  if (text == "ssh-auth") return {Purpose::ssh_auth, {}};
  if (text == "raw") return {Purpose::raw, {}};
  if (text.starts_with("sshsig:")) {
    std::string_view name = text.substr(7);
    if (name == "*" || valid_namespace(name)) return {Purpose::sshsig, std::string(name)};
  }
  throw invalid_input("'" + std::string(text.substr(0, 80)) +
                      "' is not a purpose: say sshsig:NAMESPACE, sshsig:*, cms, ssh-auth or raw");
}

std::string RateLimit::text() const { return std::to_string(signatures) + "/" + std::to_string(period.count()) + "s"; }

RateLimit RateLimit::parse(std::string_view text) {
  auto bad = [&] {
    return invalid_input("'" + std::string(text.substr(0, 80)) +
                         "' is not a rate: say N/PERIOD, e.g. 120/60s or 1000/1h (N up to 1000000, "
                         "PERIOD from 1s to 1d)");
  };
  std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) throw bad();
  auto count = parse_number(text.substr(0, slash));
  std::string_view period = text.substr(slash + 1);
  unsigned long unit = 1;
  if (!period.empty()) {
    switch (period.back()) {
      case 's': unit = 1; period.remove_suffix(1); break;
      case 'm': unit = 60; period.remove_suffix(1); break;
      case 'h': unit = 3600; period.remove_suffix(1); break;
      case 'd': unit = 86400; period.remove_suffix(1); break;
      default: break;
    }
  }
  auto length = parse_number(period);
  if (!count || !length || *count < 1 || *count > 1'000'000 || *length < 1 || *length > 86400 ||
      *length * unit > 86400) {
    throw bad();
  }
  return {static_cast<unsigned>(*count), std::chrono::seconds(*length * unit)};
}

std::set<Grant> ConsumerPolicy::default_grants() { return {{Purpose::sshsig, "git"}, {Purpose::cms, {}}}; }

bool ConsumerPolicy::permits(Purpose purpose, std::string_view ssh_namespace) const {
  if (grants.count({Purpose::raw, {}})) return true;
  if (purpose != Purpose::sshsig) return grants.count({purpose, {}}) > 0;
  return grants.count({Purpose::sshsig, "*"}) > 0 ||
         grants.count({Purpose::sshsig, std::string(ssh_namespace)}) > 0;
}

ConsumerPolicy policy_from_record(const json::object& record) {
  ConsumerPolicy policy;
  policy.uids = ids_from<uid_t>(record, "uids");
  policy.groups = ids_from<gid_t>(record, "groups");
  if (const json::value* allow = record.if_contains("allow")) {
    if (!allow->is_array()) throw invalid_input("'allow' is not a list of purposes");
    policy.grants.clear();
    for (const json::value& item : allow->as_array()) {
      if (!item.is_string()) throw invalid_input("'allow' holds something that is not a purpose");
      policy.grants.insert(Grant::parse(item.as_string()));
    }
  }
  if (const json::value* rate = record.if_contains("rate")) {
    if (!rate->is_string()) throw invalid_input("'rate' is not N/PERIOD");
    policy.rate = RateLimit::parse(rate->as_string());
  }
  return policy;
}

void policy_to_record(const ConsumerPolicy& policy, json::object& record) {
  json::array uids, groups, allow;
  for (uid_t uid : policy.uids) uids.push_back(static_cast<std::int64_t>(uid));
  for (gid_t gid : policy.groups) groups.push_back(static_cast<std::int64_t>(gid));
  for (const Grant& grant : policy.grants) allow.push_back(json::string(grant.text()));
  record["uids"] = std::move(uids);
  record["groups"] = std::move(groups);
  record["allow"] = std::move(allow);
  record["rate"] = policy.rate.text();
}

}  // namespace brokerkey
