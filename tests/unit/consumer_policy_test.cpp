#define BOOST_TEST_MODULE consumer_policy
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include "core/error.h"
#include "core/ledger.h"
#include "policy.h"
#include "temp_dir.h"

using namespace brokerkey;
using namespace brokerkey::agent;

BOOST_AUTO_TEST_CASE(grants_parse_and_print) {
  for (std::string text : {"sshsig:git", "sshsig:*", "sshsig:file@acme.example", "cms", "ssh-auth", "raw"}) {
    BOOST_TEST(Grant::parse(text).text() == text);
  }
  for (const std::string& text : std::vector<std::string>{"", "sshsig", "sshsig:", "sshsig:a b", "sshsig:a\"b",
                                                         "sshsig:a\nb", "ssh", "RAW", "sshsig:" + std::string(65, 'a')}) {
    BOOST_CHECK_THROW(Grant::parse(text), Error);
  }
}

BOOST_AUTO_TEST_CASE(rates_parse) {
  BOOST_TEST(RateLimit::parse("120/60s").text() == "120/60s");
  BOOST_TEST(RateLimit::parse("5/1h").period.count() == 3600);
  BOOST_TEST(RateLimit::parse("5/2m").period.count() == 120);
  BOOST_TEST(RateLimit::parse("1/1d").period.count() == 86400);
  BOOST_TEST(RateLimit::parse("7/30").period.count() == 30);
  for (std::string text : {"", "/", "0/1s", "1/0s", "1/2d", "1000001/1s", "-1/1s", "1/1x", "1/", "a/1s", "1/1s "}) {
    BOOST_CHECK_THROW(RateLimit::parse(text), Error);
  }
}

BOOST_AUTO_TEST_CASE(default_policy_is_git_only) {
  ConsumerPolicy policy;
  BOOST_TEST(policy.permits(Purpose::sshsig, "git"));
  BOOST_TEST(policy.permits(Purpose::cms, ""));
  BOOST_TEST(!policy.permits(Purpose::sshsig, "file"));
  BOOST_TEST(!policy.permits(Purpose::ssh_auth, ""));
  BOOST_TEST(!policy.permits(Purpose::raw, ""));
  policy.grants = {Grant::parse("sshsig:*")};
  BOOST_TEST(policy.permits(Purpose::sshsig, "anything"));
  BOOST_TEST(!policy.permits(Purpose::cms, ""));
  policy.grants = {Grant::parse("raw")};  // raw can forge every other form
  BOOST_TEST(policy.permits(Purpose::ssh_auth, ""));
}

BOOST_AUTO_TEST_CASE(policy_record_round_trip_and_refusals) {
  ConsumerPolicy policy;
  policy.uids = {1000, 1001};
  policy.groups = {50};
  policy.grants = {Grant::parse("ssh-auth")};
  policy.rate = RateLimit::parse("3/1h");
  boost::json::object record;
  policy_to_record(policy, record);
  ConsumerPolicy again = policy_from_record(record);
  BOOST_TEST((again.uids == policy.uids));
  BOOST_TEST((again.groups == policy.groups));
  BOOST_TEST((again.grants == policy.grants));
  BOOST_TEST((again.rate == policy.rate));
  // A record from before the agent: defaults.
  BOOST_TEST((policy_from_record({{"name", "ci"}}).grants == ConsumerPolicy::default_grants()));
  for (const char* bad : {R"({"uids":[-1]})", R"({"uids":"0"})", R"({"uids":[4294967295]})", R"({"allow":["x"]})",
                          R"({"allow":"raw"})", R"({"rate":"0/1s"})", R"({"groups":[1.5]})"}) {
    BOOST_CHECK_THROW(policy_from_record(boost::json::parse(bad).as_object()), Error);
  }
}

namespace {

LedgerState with_consumers(std::vector<std::pair<std::string, ConsumerPolicy>> consumers) {
  LedgerState state;
  for (auto& [name, policy] : consumers) {
    state.consumers.insert(name);
    state.policies[name] = policy;
  }
  return state;
}

ConsumerPolicy mapped(std::set<uid_t> uids, std::set<gid_t> groups) {
  ConsumerPolicy policy;
  policy.uids = std::move(uids);
  policy.groups = std::move(groups);
  return policy;
}

}  // namespace

BOOST_AUTO_TEST_CASE(identify_by_uid_then_by_one_group) {
  LedgerState state = with_consumers({{"alice", mapped({1000}, {})}, {"ops", mapped({}, {200})},
                                      {"ci", mapped({}, {300})}});
  BOOST_TEST(*identify(state, Peer{1, 1000, 200, {300}, {}}).consumer == "alice");  // uid wins
  BOOST_TEST(*identify(state, Peer{1, 1001, 200, {}, {}}).consumer == "ops");       // primary group
  BOOST_TEST(*identify(state, Peer{1, 1002, 100, {5, 300}, {}}).consumer == "ci");  // supplementary
  Identification both = identify(state, Peer{1, 1003, 200, {300}, {}});
  BOOST_TEST(!both.consumer);
  BOOST_TEST(both.refusal.find("several consumers") != std::string::npos);
  Identification none = identify(state, Peer{1, 1004, 100, {}, {}});
  BOOST_TEST(!none.consumer);
  BOOST_TEST(none.refusal == "uid 1004 maps to no consumer");
  BOOST_TEST(!identify(state, Peer{1, 0, 0, {}, {}}).consumer);  // root is not implicitly one
}

BOOST_AUTO_TEST_CASE(rate_limiter_is_a_token_bucket) {
  RateLimiter limiter;
  RateLimit limit = RateLimit::parse("2/10s");
  auto t0 = RateLimiter::Clock::now();
  BOOST_TEST(limiter.take("ci", limit, t0));
  BOOST_TEST(limiter.take("ci", limit, t0));
  BOOST_TEST(!limiter.take("ci", limit, t0));
  BOOST_TEST(limiter.take("other", limit, t0));  // one bucket per consumer
  BOOST_TEST(!limiter.take("ci", limit, t0 + std::chrono::seconds(4)));  // 0.8 token back
  BOOST_TEST(limiter.take("ci", limit, t0 + std::chrono::seconds(6)));   // 1.2 tokens
  BOOST_TEST(!limiter.take("ci", limit, t0 + std::chrono::seconds(6)));
  BOOST_TEST(limiter.take("ci", limit, t0 + std::chrono::hours(1)));  // never more than 2 saved
  BOOST_TEST(limiter.take("ci", limit, t0 + std::chrono::hours(1)));
  BOOST_TEST(!limiter.take("ci", limit, t0 + std::chrono::hours(1)));
}

BOOST_AUTO_TEST_CASE(the_ledger_keeps_uids_unique_and_policies_current) {
  TempDir dir;
  ChainedLog log(dir.path() / "ledger.jsonl");
  TimePoint t = *parse_rfc3339("2026-01-01T00:00:00Z");
  log.append("init", {{"token_label", "brokerkey"}}, t);
  boost::json::object alice{{"name", "alice"}, {"uids", boost::json::array{1000}}};
  log.append("consumer_add", alice, t);
  LedgerState state = fold_ledger(log.read_lines());
  BOOST_TEST(state.policies.at("alice").uids.count(1000) == 1u);
  BOOST_TEST((state.policies.at("alice").grants == ConsumerPolicy::default_grants()));

  // A second consumer with the same uid is refused by the fold.
  Ledger ledger(dir.path() / "ledger.jsonl");
  BOOST_CHECK_THROW(ledger.append("consumer_add", {{"name", "bob"}, {"uids", boost::json::array{1000}}}), Error);
  BOOST_CHECK_THROW(ledger.append("consumer_policy", {{"name", "nobody"}, {"allow", boost::json::array{"raw"}}}), Error);
  ledger.append("consumer_policy", {{"name", "alice"}, {"allow", boost::json::array{"raw"}}, {"rate", "5/1s"}});
  state = ledger.state();
  BOOST_TEST(state.policies.at("alice").permits(Purpose::raw, ""));
  BOOST_TEST(state.policies.at("alice").uids.empty());  // a policy record states the whole policy
  ledger.append("consumer_remove", {{"name", "alice"}});
  BOOST_TEST(ledger.state().policies.empty());
}
