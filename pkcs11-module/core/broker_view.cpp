#include "core/broker_view.h"

#include <boost/json.hpp>

#include "core/bytes.h"
#include "core/error.h"
#include "core/text.h"

namespace brokerkey {

namespace json = boost::json;

namespace {

// Bounds on what a view may hold; a real ledger is far below each.
constexpr std::size_t kMaxKeys = 4096;
constexpr std::size_t kMaxCertificatesPerKey = 256;
constexpr std::size_t kMaxCertificateBase64 = 64 * 1024;

std::string time_text(TimePoint t) { return format_rfc3339(t); }

json::object key_json(const KeyRecord& key) {
  json::object out{{"label", key.label},
                   {"fingerprint", key.fingerprint.hex()},
                   {"public_key", base64_encode(key.public_key.raw)},
                   {"created", time_text(key.created)},
                   {"rotation_due", time_text(key.rotation_due)}};
  auto optional_time = [&](std::string_view name, const std::optional<TimePoint>& t) {
    if (t) out[name] = time_text(*t);
  };
  optional_time("superseded_at", key.superseded_at);
  optional_time("overlap_until", key.overlap_until);
  optional_time("retired_at", key.retired_at);
  optional_time("revoked_at", key.revoked_at);
  optional_time("compromised_since", key.compromised_since);
  if (!key.revoke_reason.empty()) out["revoke_reason"] = key.revoke_reason;
  json::array certificates;
  for (const Bytes& der : key.certificates) certificates.push_back(json::string(base64_encode(der)));
  out["certificates"] = std::move(certificates);
  return out;
}

[[noreturn]] void bad(const std::string& what) {
  throw Error(CKR_DEVICE_ERROR, "brokerkey-agent's view@brokerkey.org answer: " + what);
}

// Typed, bounded reads of one JSON object's fields.
class Fields {
 public:
  Fields(const json::value& value, std::string where) : where_(std::move(where)) {
    if (!value.is_object()) bad(where_ + " is not an object");
    object_ = &value.as_object();
  }
  const json::value* find(std::string_view key) const { return object_->if_contains(key); }
  const json::value& need(std::string_view key) const {
    const json::value* value = find(key);
    if (!value) bad(where_ + " lacks '" + std::string(key) + "'");
    return *value;
  }
  std::string text(std::string_view key, std::size_t max_length = kMaxText) const {
    const json::value& value = need(key);
    if (!value.is_string()) bad(where_ + "." + std::string(key) + " is not a string");
    std::string out(value.as_string());
    if (auto fault = text_fault(out, max_length)) bad(where_ + "." + std::string(key) + " " + *fault);
    return out;
  }
  TimePoint time(std::string_view key) const {
    auto t = parse_rfc3339(text(key, 64));
    if (!t) bad(where_ + "." + std::string(key) + " is not an RFC 3339 time");
    return *t;
  }
  std::optional<TimePoint> optional_time(std::string_view key) const {
    if (!find(key)) return std::nullopt;
    return time(key);
  }
  std::optional<Fingerprint> optional_fingerprint(std::string_view key) const {
    const json::value& value = need(key);
    if (value.is_null()) return std::nullopt;
    return fingerprint(key);
  }
  Fingerprint fingerprint(std::string_view key) const {
    try {
      return Fingerprint::from_hex(text(key, 64));
    } catch (const Error&) {
      bad(where_ + "." + std::string(key) + " is not a fingerprint");
    }
  }
  const json::array& array(std::string_view key, std::size_t max_items) const {
    const json::value& value = need(key);
    if (!value.is_array() || value.as_array().size() > max_items) {
      bad(where_ + "." + std::string(key) + " is not an array of at most " + std::to_string(max_items));
    }
    return value.as_array();
  }
  std::size_t count(std::string_view key) const {
    const json::value& value = need(key);
    if (!value.is_uint64() && !(value.is_int64() && value.as_int64() >= 0)) {
      bad(where_ + "." + std::string(key) + " is not a count");
    }
    return static_cast<std::size_t>(value.to_number<std::uint64_t>());
  }
  const std::string& where() const { return where_; }

 private:
  std::string where_;
  const json::object* object_ = nullptr;
};

KeyRecord parse_key(const json::value& value, std::size_t index) {
  Fields in(value, "keys[" + std::to_string(index) + "]");
  KeyRecord key;
  key.label = in.text("label");
  key.fingerprint = in.fingerprint("fingerprint");
  std::optional<Bytes> raw = base64_decode(in.text("public_key", 64));
  if (!raw || raw->size() != key.public_key.raw.size()) bad(in.where() + ".public_key is not 32 bytes of base64");
  std::copy(raw->begin(), raw->end(), key.public_key.raw.begin());
  if (fingerprint_of(key.public_key) != key.fingerprint) bad(in.where() + ": fingerprint is not its public key's");
  key.created = in.time("created");
  key.rotation_due = in.time("rotation_due");
  key.superseded_at = in.optional_time("superseded_at");
  key.overlap_until = in.optional_time("overlap_until");
  key.retired_at = in.optional_time("retired_at");
  key.revoked_at = in.optional_time("revoked_at");
  key.compromised_since = in.optional_time("compromised_since");
  if (in.find("revoke_reason")) key.revoke_reason = in.text("revoke_reason");
  for (const json::value& item : in.array("certificates", kMaxCertificatesPerKey)) {
    std::optional<Bytes> der;
    if (item.is_string() && item.as_string().size() <= kMaxCertificateBase64) der = base64_decode(item.as_string());
    if (!der || der->empty()) bad(in.where() + ".certificates holds something that is not base64 DER");
    key.certificate_der_base64 = std::string(item.as_string());
    key.certificates.push_back(std::move(*der));
  }
  return key;
}

}  // namespace

BrokerViewText broker_view_text(const BrokerView& view) {
  json::array keys;
  for (const KeyRecord& key : view.ledger.keys) keys.push_back(key_json(key));
  auto slot = [](const std::optional<Fingerprint>& f) { return f ? json::value(f->hex()) : json::value(nullptr); };
  json::object out{{"token_label", view.ledger.token_label},
                   {"ledger", json::object{{"records", view.ledger.records}, {"head", view.ledger.head_hash}}},
                   {"current", slot(view.current)},
                   {"overlap", slot(view.overlap)},
                   {"keys", std::move(keys)}};
  BrokerViewText text{json::serialize(out), {}};
  text.tag = hex_encode(sha256(as_bytes(text.body)));
  return text;
}

std::string broker_view_json(const BrokerViewText& text, TimePoint time) {
  // The body is a serialized JSON object, so it ends in '}': the two fields go in before it.
  std::string out(text.body, 0, text.body.size() - 1);
  out += ",\"time\":" + json::serialize(json::string(time_text(time)));
  out += ",\"tag\":" + json::serialize(json::string(text.tag)) + "}";
  return out;
}

std::string broker_view_json(const BrokerView& view) { return broker_view_json(broker_view_text(view), view.time); }

BrokerView parse_broker_view(std::string_view text) {
  json::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec) bad("not JSON: " + ec.message());
  Fields top(root, "view");
  BrokerView view;
  view.time = top.time("time");
  view.ledger.token_label = top.text("token_label", 32);
  Fields ledger(top.need("ledger"), "view.ledger");
  view.ledger.records = ledger.count("records");
  view.ledger.head_hash = ledger.text("head", 128);
  std::size_t index = 0;
  for (const json::value& item : top.array("keys", kMaxKeys)) {
    KeyRecord key = parse_key(item, index++);
    if (view.ledger.find(key.fingerprint)) bad("key " + key.fingerprint.hex() + " listed twice");
    view.ledger.keys.push_back(std::move(key));
  }
  view.ledger.initialized = !view.ledger.keys.empty();
  view.current = top.optional_fingerprint("current");
  view.overlap = top.optional_fingerprint("overlap");
  for (const auto& slot : {view.current, view.overlap}) {
    if (slot && !view.ledger.find(*slot)) bad("a slot names key " + slot->hex() + ", which it does not list");
  }
  if (view.current && view.current == view.overlap) bad("one key in both slots");
  if (top.find("tag")) {
    view.tag = top.text("tag", 64);
    bool hex = view.tag.size() == 64 && view.tag.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (!hex) bad("view.tag is not 64 lowercase hex digits");
  }
  return view;
}

}  // namespace brokerkey
