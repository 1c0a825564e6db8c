// parse_broker_view reads brokerkey-agent's view@brokerkey.org answer as hostile input: a view
// the agent writes reads back whole; every field that is missing, of the wrong type, out of
// bounds, or inconsistent with the rest is refused with CKR_DEVICE_ERROR naming that field.
#define BOOST_TEST_MODULE broker_view
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <functional>

#include "core/broker_view.h"
#include "core/error.h"

using namespace brokerkey;
namespace json = boost::json;

namespace {

KeyRecord key(std::uint8_t seed, const char* label) {
  KeyRecord record;
  record.label = label;
  for (std::size_t i = 0; i < record.public_key.raw.size(); ++i) {
    record.public_key.raw[i] = static_cast<std::uint8_t>(seed + i);
  }
  record.fingerprint = fingerprint_of(record.public_key);
  record.created = *parse_rfc3339("2026-01-01T00:00:00Z");
  record.rotation_due = *parse_rfc3339("2027-01-01T00:00:00Z");
  return record;
}

// A current key and an overlap key, as the agent answers after a rotation.
BrokerView two_keys() {
  BrokerView view;
  view.time = *parse_rfc3339("2026-06-01T12:00:00Z");
  KeyRecord old_key = key(1, "acme-git-signing-ed25519-prod");
  old_key.superseded_at = *parse_rfc3339("2026-05-30T00:00:00Z");
  old_key.overlap_until = *parse_rfc3339("2026-06-29T00:00:00Z");
  old_key.certificates.push_back({0x30, 0x03, 0x02, 0x01, 0x01});
  KeyRecord new_key = key(100, "acme-git-signing-ed25519-prod");
  view.ledger.keys = {old_key, new_key};
  view.ledger.initialized = true;
  view.ledger.records = 3;
  view.ledger.head_hash = std::string(64, 'a');
  view.ledger.token_label = "brokerkey";
  view.current = new_key.fingerprint;
  view.overlap = old_key.fingerprint;
  return view;
}

json::object good() { return json::parse(broker_view_json(two_keys())).as_object(); }

// `change` applied to a good view makes parse_broker_view refuse it, naming `fragment`.
void refused(const std::string& what, const std::function<void(json::object&)>& change, std::string_view fragment) {
  json::object view = good();
  change(view);
  std::string text = json::serialize(view);
  BOOST_TEST_CONTEXT(what) {
    try {
      parse_broker_view(text);
      BOOST_ERROR("accepted: " << text);
    } catch (const Error& e) {
      BOOST_TEST(e.rv() == static_cast<CK_RV>(CKR_DEVICE_ERROR));
      BOOST_TEST(std::string(e.what()).find(fragment) != std::string::npos, e.what());
    }
  }
}

json::object& first_key(json::object& view) { return view["keys"].as_array()[0].as_object(); }

}  // namespace

BOOST_AUTO_TEST_CASE(a_view_the_agent_writes_reads_back) {
  BrokerView written = two_keys();
  BrokerView read = parse_broker_view(broker_view_json(written));
  BOOST_TEST((read.time == written.time));
  BOOST_TEST(read.ledger.token_label == "brokerkey");
  BOOST_TEST(read.ledger.records == 3u);
  BOOST_TEST(read.ledger.initialized);
  BOOST_REQUIRE(read.current_key() != nullptr);
  BOOST_REQUIRE(read.overlap_key() != nullptr);
  BOOST_TEST((read.current_key()->fingerprint == written.ledger.keys[1].fingerprint));
  BOOST_TEST((read.overlap_key()->public_key == written.ledger.keys[0].public_key));
  BOOST_TEST((read.overlap_key()->overlap_until == written.ledger.keys[0].overlap_until));
  BOOST_TEST(read.overlap_key()->certificates.size() == 1u);
  BOOST_TEST(broker_view_json(read) == broker_view_json(written));
  // Empty slots are null; a view of a broker with no key yet lists none.
  json::object none = good();
  none["current"] = nullptr;
  none["overlap"] = nullptr;
  none["keys"] = json::array();
  BrokerView empty = parse_broker_view(json::serialize(none));
  BOOST_TEST(!empty.current_key());
  BOOST_TEST(!empty.overlap_key());
  BOOST_TEST(!empty.ledger.initialized);
}

BOOST_AUTO_TEST_CASE(not_a_view) {
  for (const char* text : {"", "{", "[]", "null", "\"view\"", "{}"}) {
    BOOST_TEST_CONTEXT(text) { BOOST_CHECK_THROW(parse_broker_view(text), Error); }
  }
}

BOOST_AUTO_TEST_CASE(top_level_fields) {
  refused("time missing", [](json::object& v) { v.erase("time"); }, "lacks 'time'");
  refused("time not RFC 3339", [](json::object& v) { v["time"] = "yesterday"; }, "view.time");
  refused("time a number", [](json::object& v) { v["time"] = 5; }, "view.time is not a string");
  refused("token label too long", [](json::object& v) { v["token_label"] = std::string(33, 'x'); }, "view.token_label");
  refused("token label with a newline", [](json::object& v) { v["token_label"] = "a\nb"; }, "view.token_label");
  refused("ledger missing", [](json::object& v) { v.erase("ledger"); }, "lacks 'ledger'");
  refused("ledger not an object", [](json::object& v) { v["ledger"] = 1; }, "view.ledger is not an object");
  refused("records negative", [](json::object& v) { v["ledger"].as_object()["records"] = -1; }, "view.ledger.records");
  refused("records a string", [](json::object& v) { v["ledger"].as_object()["records"] = "3"; }, "view.ledger.records");
  refused("head too long", [](json::object& v) { v["ledger"].as_object()["head"] = std::string(129, 'a'); }, "view.ledger.head");
  refused("keys not an array", [](json::object& v) { v["keys"] = json::object(); }, "view.keys");
  refused("too many keys", [](json::object& v) { v["keys"] = json::array(4097, nullptr); }, "view.keys");
  refused("a key that is not an object", [](json::object& v) { v["keys"].as_array()[0] = 7; }, "keys[0] is not an object");
  refused("current missing", [](json::object& v) { v.erase("current"); }, "lacks 'current'");
  refused("current not a fingerprint", [](json::object& v) { v["current"] = "abc"; }, "view.current is not a fingerprint");
  refused("current names an unlisted key", [](json::object& v) { v["current"] = std::string(64, '0'); },
          "which it does not list");
  refused("overlap names an unlisted key", [](json::object& v) { v["overlap"] = std::string(64, 'f'); },
          "which it does not list");
  refused("one key in both slots", [](json::object& v) { v["overlap"] = v["current"]; }, "one key in both slots");
  refused("a key listed twice", [](json::object& v) { v["keys"].as_array().push_back(v["keys"].as_array()[1]); },
          "listed twice");
}

BOOST_AUTO_TEST_CASE(key_fields) {
  refused("label missing", [](json::object& v) { first_key(v).erase("label"); }, "keys[0] lacks 'label'");
  refused("label with an escape", [](json::object& v) { first_key(v)["label"] = "a\x1b[2Jb"; }, "keys[0].label");
  refused("fingerprint not hex", [](json::object& v) { first_key(v)["fingerprint"] = std::string(64, 'g'); },
          "keys[0].fingerprint is not a fingerprint");
  refused("fingerprint of another key", [](json::object& v) { first_key(v)["fingerprint"] = v["current"]; },
          "fingerprint is not its public key's");
  refused("public key not base64", [](json::object& v) { first_key(v)["public_key"] = "!!!!"; }, "keys[0].public_key");
  refused("public key of 31 bytes", [](json::object& v) { first_key(v)["public_key"] = std::string(40, 'A') + "AA=="; },
          "keys[0].public_key");
  refused("created missing", [](json::object& v) { first_key(v).erase("created"); }, "keys[0] lacks 'created'");
  refused("rotation_due not a time", [](json::object& v) { first_key(v)["rotation_due"] = "2027-13-01T00:00:00Z"; },
          "keys[0].rotation_due");
  refused("overlap_until not a time", [](json::object& v) { first_key(v)["overlap_until"] = "soon"; },
          "keys[0].overlap_until");
  refused("revoked_at a number", [](json::object& v) { first_key(v)["revoked_at"] = 1; }, "keys[0].revoked_at");
  refused("revoke reason with a newline", [](json::object& v) { first_key(v)["revoke_reason"] = "a\nb"; },
          "keys[0].revoke_reason");
  refused("certificates missing", [](json::object& v) { first_key(v).erase("certificates"); },
          "keys[0] lacks 'certificates'");
  refused("a certificate that is not a string", [](json::object& v) { first_key(v)["certificates"] = json::array{1}; },
          "keys[0].certificates");
  refused("an empty certificate", [](json::object& v) { first_key(v)["certificates"] = json::array{""}; },
          "keys[0].certificates");
  refused("a certificate that is not base64", [](json::object& v) { first_key(v)["certificates"] = json::array{"%%"}; },
          "keys[0].certificates");
  refused("too many certificates",
          [](json::object& v) { first_key(v)["certificates"] = json::array(257, json::string("MAMCAQE=")); },
          "keys[0].certificates");
}

// The tag names everything a view shows but its time: the same view at another time has the
// same tag; another slot, key, time of a key, certificate, label or ledger head has another.
BOOST_AUTO_TEST_CASE(the_tag_names_the_view_but_its_time) {
  BrokerView view = two_keys();
  std::string tag = broker_view_text(view).tag;
  BOOST_TEST(tag.size() == 64u);
  BrokerView read = parse_broker_view(broker_view_json(view));
  BOOST_TEST(read.tag == tag);
  BOOST_TEST(broker_view_text(read).tag == tag);
  view.time += std::chrono::hours(24 * 300);
  BOOST_TEST(broker_view_text(view).tag == tag);
  BOOST_TEST(parse_broker_view(broker_view_json(view)).tag == tag);

  std::vector<std::pair<std::string, std::function<void(BrokerView&)>>> changes{
      {"the overlap window ended", [](BrokerView& v) { v.overlap.reset(); }},
      {"no current key", [](BrokerView& v) { v.current.reset(); }},
      {"a key revoked", [](BrokerView& v) { v.ledger.keys[1].revoked_at = v.time; }},
      {"a certificate issued", [](BrokerView& v) { v.ledger.keys[1].certificates.push_back({0x30, 0x00}); }},
      {"another ledger head", [](BrokerView& v) { v.ledger.head_hash = std::string(64, 'b'); }},
      {"another token label", [](BrokerView& v) { v.ledger.token_label = "other"; }},
  };
  for (auto& [what, change] : changes) {
    BrokerView changed = two_keys();
    change(changed);
    BOOST_TEST(broker_view_text(changed).tag != tag, what);
  }
}

BOOST_AUTO_TEST_CASE(a_tag_is_64_lowercase_hex_digits) {
  std::string tag = broker_view_text(two_keys()).tag;
  refused("tag a number", [](json::object& v) { v["tag"] = 5; }, "view.tag is not a string");
  refused("tag too short", [&](json::object& v) { v["tag"] = tag.substr(1); }, "view.tag");
  refused("tag too long", [&](json::object& v) { v["tag"] = tag + "0"; }, "view.tag");
  refused("tag upper case", [](json::object& v) { v["tag"] = std::string(64, 'A'); }, "view.tag");
  refused("tag not hex", [](json::object& v) { v["tag"] = std::string(64, 'g'); }, "view.tag");
  // An agent that gives no tag (an older one) is still read; its views are then not cached.
  json::object untagged = good();
  untagged.erase("tag");
  BOOST_TEST(parse_broker_view(json::serialize(untagged)).tag.empty());
}
