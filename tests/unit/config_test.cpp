#define BOOST_TEST_MODULE config
#include <boost/test/unit_test.hpp>
#include <cstdlib>

#include "core/config.h"
#include "core/error.h"

using namespace brokerkey;

namespace {
const char* kMinimal = R"({"version":1,"backend":{"module":"/usr/lib/softhsm/libsofthsm2.so",
  "token_label":"store","pin_file":"backend.pin","env":{"SOFTHSM2_CONF":"/x/softhsm2.conf"}},
  "ledger":"ledger.jsonl","signing_log":"/abs/signing.jsonl"})";

void expect_error(std::string_view json, std::string_view fragment) {
  try {
    parse_config(json, "/etc/brokerkey/brokerkey.conf");
    BOOST_FAIL("accepted: " << json);
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find(fragment) != std::string::npos, e.what());
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE(minimal_config_gets_defaults_and_resolves_relative_paths) {
  Config config = parse_config(kMinimal, "/srv/broker/brokerkey.conf");
  BOOST_TEST(config.token_label == "brokerkey");
  BOOST_TEST(config.backend.pin_file == "/srv/broker/backend.pin");
  BOOST_TEST(config.ledger == "/srv/broker/ledger.jsonl");
  BOOST_TEST(config.signing_log == "/abs/signing.jsonl");
  BOOST_TEST(config.backend.env.at("SOFTHSM2_CONF") == "/x/softhsm2.conf");
  BOOST_TEST(config.rotation.period_days == 365);
  BOOST_TEST(config.rotation.overlap_days == 30);
  BOOST_TEST(config.consumers.empty());
}

BOOST_AUTO_TEST_CASE(serialize_then_parse_is_identity) {
  Config config = parse_config(kMinimal, "/srv/broker/brokerkey.conf");
  config.naming = {"acme", "git-signing", "prod"};
  config.rotation = {180, 14};
  config.consumers.push_back({"ci", "c2FsdA==", "aGFzaA==", {14, 8, 1}});
  Config again = parse_config(serialize_config(config), config.file);
  BOOST_TEST(again.naming.purpose == "git-signing");
  BOOST_TEST(again.rotation.period_days == 180);
  BOOST_TEST(again.consumers.size() == 1u);
  BOOST_TEST(again.consumers[0].scrypt.log2_n == 14u);
  BOOST_TEST(serialize_config(again) == serialize_config(config));
}

// Found by fuzz/config_fuzz: `brokerkey init` without naming saved "naming":{"service":"",...},
// which parse_config refuses, so no command could load the broker afterwards.
BOOST_AUTO_TEST_CASE(a_config_without_naming_saves_and_loads_again) {
  Config config = parse_config(kMinimal, "/srv/broker/brokerkey.conf");
  Config again = parse_config(serialize_config(config), config.file);
  BOOST_TEST(again.naming.service.empty());
  BOOST_TEST(again.naming.env.empty());
  config.naming.service = "acme";
  BOOST_TEST(parse_config(serialize_config(config), config.file).naming.service == "acme");
}

BOOST_AUTO_TEST_CASE(broken_configs_name_the_problem) {
  expect_error("{", "not valid JSON");
  expect_error("[]", "must be a JSON object");
  expect_error(R"({"backend":{}})", "lacks the field 'module'");
  expect_error(R"({"backend":{"module":"m","token_label":"t","pin_file":"p"},"ledger":"l",
                 "signing_log":"s","colour":"blue"})", "unknown field 'colour'");
  expect_error(R"({"version":2,"backend":{"module":"m","token_label":"t","pin_file":"p"},
                 "ledger":"l","signing_log":"s"})", "'version'");
  expect_error(R"({"backend":{"module":"m","token_label":"t","pin_file":"p"},"ledger":"l",
                 "signing_log":"s","rotation":{"period_days":0}})", "period_days");
  expect_error(R"({"backend":{"module":"m","token_label":"t","pin_file":"p"},"ledger":"l",
                 "signing_log":"s","token_label":"way-too-long-for-a-token-label"})", "token_label");
  expect_error(R"({"backend":{"module":"m","token_label":"t","pin_file":"p"},"ledger":"l",
                 "signing_log":"s","consumers":[{"name":"a","salt":"x","hash":"y"},
                 {"name":"a","salt":"x","hash":"y"}]})", "twice");
}

BOOST_AUTO_TEST_CASE(locate_prefers_the_environment) {
  ::setenv("BROKERKEY_CONF", "/somewhere/brokerkey.conf", 1);
  BOOST_TEST(locate_config() == "/somewhere/brokerkey.conf");
  ::unsetenv("BROKERKEY_CONF");
  ::setenv("HOME", "/nonexistent-home", 1);
  if (!std::filesystem::exists("/etc/brokerkey/brokerkey.conf")) {
    BOOST_CHECK_THROW(locate_config(), Error);
  }
}

BOOST_AUTO_TEST_CASE(missing_file_is_a_clear_error) {
  try {
    load_config("/nonexistent/brokerkey.conf");
    BOOST_FAIL("loaded a missing file");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("/nonexistent/brokerkey.conf") != std::string::npos);
  }
}

// A client configuration needs only the agent's socket; it states its mode, and a broker's own
// configuration without a mode field (written before modes existed) is embedded.
BOOST_AUTO_TEST_CASE(client_mode) {
  Config client = parse_config(client_config_text("/run/brokerkey/agent.sock", "brokerkey"), "/etc/brokerkey/brokerkey.conf");
  BOOST_TEST((client.mode == ConfigMode::client));
  BOOST_TEST(client.agent.socket == "/run/brokerkey/agent.sock");
  BOOST_TEST(client.token_label == "brokerkey");
  BOOST_TEST(client.backend.pin_file.empty());
  BOOST_TEST((parse_config(serialize_config(client), client.file).mode == ConfigMode::client));
  BOOST_CHECK_THROW(parse_config(R"({"mode":"client","token_label":"brokerkey"})", "/c"), Error);
  BOOST_CHECK_THROW(parse_config(R"({"mode":"agent","agent":{"socket":"/s"}})", "/c"), Error);
  BOOST_CHECK_THROW(parse_config(R"({"mode":"embedded","agent":{"socket":"/s"}})", "/c"), Error);  // no backend
  // A client configuration may name a backend (a broker host's operator); it is never used.
  Config named = parse_config(R"({"mode":"client","agent":{"socket":"s.sock"},
      "backend":{"module":"/m.so","token_label":"b","pin_file":"pin"},"ledger":"l"})", "/etc/x/c.conf");
  BOOST_TEST(named.agent.socket == "/etc/x/s.sock");
  BOOST_TEST(named.backend.pin_file == "/etc/x/pin");
}
