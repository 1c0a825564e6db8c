#define BOOST_TEST_MODULE agent_health
#include <boost/test/unit_test.hpp>

#include "agent_health.h"
#include "core/error.h"

using namespace brokerkey;

namespace {
void expect_refused(std::string_view json, std::string_view fragment) {
  try {
    parse_agent_health(json);
    BOOST_FAIL("accepted: " << json);
  } catch (const Error& e) {
    BOOST_TEST(e.rv() == CKR_DEVICE_ERROR);
    BOOST_TEST(std::string(e.what()).find(fragment) != std::string::npos, e.what());
  }
}
}  // namespace

// What brokerkey-agent sends (agent/service.cpp health_json), ok and degraded.
BOOST_AUTO_TEST_CASE(reads_the_agents_answers) {
  AgentHealth ok = parse_agent_health(
      R"j({"time":"2026-12-01T00:00:00Z","ledger":{"records":4,"head":"ab"},"current":{"label":"k","fingerprint":"00","rotation_due":"2027-01-01T00:00:00Z"},)j"
      R"j("consumer":{"name":"runner","allow":["sshsig:git","cms"],"rate":"120/60s"},"signing_log":"/srv/b/signing-log.jsonl","status":"ok","problems":[]})j");
  BOOST_TEST(ok.ok);
  BOOST_TEST(ok.problems.empty());
  BOOST_TEST(ok.consumer.value_or("") == "runner");
  BOOST_TEST(ok.logged);
  AgentHealth degraded = parse_agent_health(
      R"j({"time":"2026-12-01T00:00:00Z","signing_log":null,"status":"degraded","problems":["no current key","signatures are not logged (no signing_log in the configuration)"]})j");
  BOOST_TEST(!degraded.ok);
  BOOST_TEST(degraded.problems.size() == 2u);
  BOOST_TEST(!degraded.consumer);
  BOOST_TEST(!degraded.logged);
}

BOOST_AUTO_TEST_CASE(refuses_what_breaks_the_shape) {
  expect_refused("", "not a JSON object");
  expect_refused("[]", "not a JSON object");
  expect_refused(R"j({"status":"ok","problems":[)j", "not a JSON object");
  expect_refused(R"j({"problems":[]})j", "lacks 'status'");
  expect_refused(R"j({"status":1,"problems":[]})j", "status is not a string");
  expect_refused(R"j({"status":"fine","problems":[]})j", "neither ok nor degraded");
  expect_refused(R"j({"status":"ok"})j", "problems is not an array");
  expect_refused(R"j({"status":"ok","problems":"none"})j", "problems is not an array");
  expect_refused(R"j({"status":"degraded","problems":[]})j", "degraded without a problem");
  expect_refused(R"j({"status":"ok","problems":["x"]})j", "ok with problems");
  expect_refused(R"j({"status":"degraded","problems":[7]})j", "a problem is not a string");
  expect_refused(R"j({"status":"ok","problems":[],"consumer":"runner"})j", "consumer has no name");
  expect_refused(R"j({"status":"ok","problems":[],"consumer":{"name":3}})j", "consumer.name is not a string");
  expect_refused(R"j({"status":"ok","problems":[],"signing_log":true})j", "signing_log is neither");
}

// Every text reaches a terminal: a line break or a control character in it would forge output.
BOOST_AUTO_TEST_CASE(refuses_text_that_could_forge_a_line) {
  expect_refused(R"j({"status":"degraded","problems":["fine\nhealthy: all good"]})j", "a problem");
  expect_refused(R"j({"status":"degraded","problems":["\u001b[2J"]})j", "a problem");
  expect_refused(R"j({"status":"ok","problems":[],"consumer":{"name":"a\rb"}})j", "consumer.name");
  std::string long_problem(2000, 'x');
  expect_refused(R"j({"status":"degraded","problems":[")j" + long_problem + R"j("]})j", "a problem");
}

BOOST_AUTO_TEST_CASE(bounds_the_number_of_problems) {
  std::string many = R"j({"status":"degraded","problems":[)j";
  for (int i = 0; i < 65; ++i) many += std::string(i ? "," : "") + "\"p\"";
  expect_refused(many + "]}", "at most 64");
  std::string enough = R"j({"status":"degraded","problems":[)j";
  for (int i = 0; i < 64; ++i) enough += std::string(i ? "," : "") + "\"p\"";
  BOOST_TEST(parse_agent_health(enough + "]}").problems.size() == 64u);
}
