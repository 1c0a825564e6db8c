#include "core/ledger.h"

#include <boost/json.hpp>

#include "core/error.h"
#include "core/key_label.h"
#include "core/text.h"
#include "core/x509.h"

namespace brokerkey {

namespace json = boost::json;

std::string_view to_string(KeyStatus status) {
  switch (status) {
    case KeyStatus::current: return "current";
    case KeyStatus::overlap: return "overlap";
    case KeyStatus::superseded: return "superseded";
    case KeyStatus::retired: return "retired";
    case KeyStatus::revoked: return "revoked";
  }
  return "unknown";
}

KeyStatus KeyRecord::status_at(TimePoint at) const {
  if (revoked_at) return KeyStatus::revoked;
  if (retired_at) return KeyStatus::retired;
  if (!superseded_at) return KeyStatus::current;
  if (overlap_until && at < *overlap_until) return KeyStatus::overlap;
  return KeyStatus::superseded;
}

std::optional<SigningWindow> signing_window(const KeyRecord& key) {
  SigningWindow window{key.created, std::nullopt};
  // Ledger times are rounded down to the second, so the key may have signed during the whole
  // second its rotation or retirement was recorded in: that second belongs to its window.
  if (auto stopped = key.superseded_at ? key.superseded_at : key.retired_at) window.until = *stopped + std::chrono::seconds(1);
  if (key.revoked_at) {
    if (!key.compromised_since) return std::nullopt;
    // The operator's time: from it on, nothing the key signed is trusted.
    if (!window.until || *key.compromised_since < *window.until) window.until = key.compromised_since;
  }
  if (window.until && *window.until <= window.from) return std::nullopt;
  return window;
}

const KeyRecord* LedgerState::current(TimePoint at) const {
  for (const auto& key : keys) {
    if (key.status_at(at) == KeyStatus::current) return &key;
  }
  return nullptr;
}

const KeyRecord* LedgerState::overlap(TimePoint at) const {
  for (const auto& key : keys) {
    if (key.status_at(at) == KeyStatus::overlap) return &key;
  }
  return nullptr;
}

const KeyRecord* LedgerState::find(const Fingerprint& fingerprint) const {
  for (const auto& key : keys) {
    if (key.fingerprint == fingerprint) return &key;
  }
  return nullptr;
}

namespace {

// A certificate in a cert_issue record, base64: far more than any Ed25519 certificate needs.
constexpr std::size_t kMaxCertificateBase64 = 64 * 1024;

class RecordView {
 public:
  RecordView(const json::object& record, std::size_t line) : record_(record), line_(line) {}

  // Every text field fold_ledger reads keeps the rule of core/text.h: whatever a hand-edited
  // ledger holds, nothing of it reaches an output with a line break or control character.
  std::string text(std::string_view key, std::size_t max_length = kMaxText) const {
    const json::value* value = record_.if_contains(key);
    if (!value || !value->is_string()) fail("lacks '" + std::string(key) + "'");
    std::string out(value->as_string());
    if (auto fault = text_fault(out, max_length)) fail("has a '" + std::string(key) + "' that " + *fault);
    return out;
  }
  std::optional<std::string> optional_text(std::string_view key) const {
    if (!record_.if_contains(key)) return std::nullopt;
    return text(key);
  }
  TimePoint time(std::string_view key) const {
    auto parsed = parse_rfc3339(text(key));
    if (!parsed) fail("has an invalid time in '" + std::string(key) + "'");
    return *parsed;
  }
  Fingerprint fingerprint(std::string_view key) const {
    try {
      return Fingerprint::from_hex(text(key));
    } catch (const Error&) {
      fail("has an invalid fingerprint in '" + std::string(key) + "'");
    }
  }
  PublicKey public_key() const {
    auto raw = base64_decode(text("public_key"));
    if (!raw || raw->size() != 32) fail("has an invalid public_key");
    PublicKey key;
    std::copy(raw->begin(), raw->end(), key.raw.begin());
    return key;
  }
  ConsumerPolicy policy() const {
    try {
      return policy_from_record(record_);
    } catch (const Error& e) {
      fail(std::string("has an invalid consumer policy: ") + e.what());
    }
  }
  [[noreturn]] void fail(const std::string& problem) const {
    throw integrity_failed("ledger record at line " + std::to_string(line_) + " " + problem);
  }

 private:
  const json::object& record_;
  std::size_t line_;
};

// Every string anywhere in the record, read by the fold or not (the actor, a label kept only
// for readers, fields a later version adds), keeps the rule of core/text.h: audit and health
// show records too, and no record may carry what would break a line of any output.
void check_every_text(const RecordView& view, const json::value& value, std::string_view key) {
  if (value.is_string()) {
    std::size_t max = key == "certificate" ? kMaxCertificateBase64 : kMaxText;
    if (auto fault = text_fault(value.get_string(), max)) view.fail("has a '" + std::string(key) + "' that " + *fault);
  } else if (value.is_object()) {
    for (const auto& [name, member] : value.get_object()) check_every_text(view, member, name);
  } else if (value.is_array()) {
    for (const auto& element : value.get_array()) check_every_text(view, element, key);
  }
}

KeyRecord new_key(const LedgerState& state, const RecordView& view, TimePoint at) {
  KeyRecord key;
  key.label = view.text("label");
  try {
    parse_key_label(key.label);
  } catch (const Error&) {
    view.fail("has a label that is not a key label <service>-<purpose>-ed25519-<env>");
  }
  key.fingerprint = view.fingerprint("fingerprint");
  // One record per key: retire, revoke and cert_issue find a key by its fingerprint.
  if (state.find(key.fingerprint)) {
    view.fail("brings back a key the ledger already knows: " + key.fingerprint.hex());
  }
  key.public_key = view.public_key();
  if (fingerprint_of(key.public_key) != key.fingerprint) {
    view.fail("has a public_key that does not hash to its fingerprint");
  }
  key.created = at;
  key.rotation_due = view.time("rotation_due");
  if (key.rotation_due <= at) view.fail("has a rotation_due that is not after the record's time");
  return key;
}

KeyRecord& existing(LedgerState& state, const RecordView& view, std::string_view field) {
  Fingerprint fingerprint = view.fingerprint(field);
  for (auto& key : state.keys) {
    if (key.fingerprint == fingerprint) return key;
  }
  view.fail("names a key the ledger does not know: " + fingerprint.hex());
}

// A peer's uid names at most one consumer, so the agent never has to choose between two.
void set_policy(LedgerState& state, const RecordView& view, const std::string& name) {
  ConsumerPolicy policy = view.policy();
  for (const auto& [other, other_policy] : state.policies) {
    if (other == name) continue;
    for (uid_t uid : policy.uids) {
      if (other_policy.uids.count(uid)) view.fail("maps uid " + std::to_string(uid) + " to a second consumer, after " + other);
    }
  }
  state.policies[name] = std::move(policy);
}

}  // namespace

LedgerState fold_ledger(const std::vector<std::string>& lines) {
  if (auto fault = verify_chain(lines)) {
    throw integrity_failed("ledger record at line " + std::to_string(fault->line) + " " +
                           fault->problem + "; run 'brokerkey audit verify'");
  }
  LedgerState state;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    json::object record = parse_record(lines[i]);
    RecordView view(record, i + 1);
    for (const auto& [name, member] : record) check_every_text(view, member, name);
    std::string event = view.text("event");
    TimePoint at = view.time("time");
    if (i == 0 && event != "init") view.fail("is not an init record");
    if (event == "init") {
      if (state.initialized) view.fail("initialises the broker a second time");
      state.initialized = true;
      state.token_label = view.text("token_label");
      try {
        check_token_label(state.token_label);
      } catch (const Error&) {
        view.fail("has a token_label that is not a token label");
      }
    } else if (event == "mint") {
      if (state.current(at)) view.fail("mints a key while another is current");
      state.keys.push_back(new_key(state, view, at));
    } else if (event == "rotate") {
      KeyRecord& from = existing(state, view, "from");
      if (from.status_at(at) != KeyStatus::current) view.fail("rotates from a key that is not current");
      if (const KeyRecord* open = state.overlap(at)) {
        view.fail("rotates while " + open->fingerprint.hex() + " is still in its overlap window");
      }
      from.superseded_at = at;
      from.overlap_until = view.time("overlap_until");
      if (*from.overlap_until < at) view.fail("has an overlap_until before the rotation");
      KeyRecord next = new_key(state, view, at);
      if (view.fingerprint("to") != next.fingerprint) view.fail("has 'to' unlike its fingerprint");
      state.keys.push_back(std::move(next));
    } else if (event == "retire") {
      KeyRecord& key = existing(state, view, "fingerprint");
      if (key.retired_at || key.revoked_at) view.fail("retires a key that has already ended");
      if (key.status_at(at) == KeyStatus::current) view.fail("retires the current key");
      key.retired_at = at;
    } else if (event == "revoke") {
      KeyRecord& key = existing(state, view, "fingerprint");
      if (key.revoked_at) view.fail("revokes a key twice");
      key.revoked_at = at;
      key.revoke_reason = view.text("reason");
      if (view.optional_text("compromised_since")) {
        key.compromised_since = view.time("compromised_since");
        // The rule 'brokerkey revoke' applies (docs/SIGNING_KEY_ROTATION.md): a compromise
        // begins while the key exists and is known by the time it is revoked.
        if (*key.compromised_since < key.created || *key.compromised_since > at) {
          view.fail("has a compromised_since outside the key's life (before its creation or after the revocation)");
        }
      }
    } else if (event == "consumer_add") {
      std::string name = view.text("name");
      if (!state.consumers.insert(name).second) view.fail("adds a consumer twice");
      set_policy(state, view, name);
    } else if (event == "consumer_policy") {
      std::string name = view.text("name");
      if (!state.consumers.count(name)) view.fail("sets the policy of an unknown consumer");
      set_policy(state, view, name);
    } else if (event == "consumer_remove") {
      std::string name = view.text("name");
      if (state.consumers.erase(name) == 0) view.fail("removes an unknown consumer");
      state.policies.erase(name);
    } else if (event == "cert_issue") {
      KeyRecord& key = existing(state, view, "fingerprint");
      auto der = base64_decode(view.text("certificate", kMaxCertificateBase64));
      try {
        if (!der || parse_certificate(*der).key != key.public_key) view.fail("has a certificate for another key");
      } catch (const Error&) {
        view.fail("has a certificate that is not an X.509 certificate for an Ed25519 key");
      }
      key.certificate_der_base64 = view.text("certificate", kMaxCertificateBase64);
      key.certificates.push_back(*der);
    } else if (event != "note") {
      view.fail("has an unknown event '" + event + "'");
    }
  }
  state.records = lines.size();
  state.head_hash = lines.empty() ? kGenesisPrev : hash_of_line(lines.back());
  return state;
}

}  // namespace brokerkey
